"""Implementation of :mod:`baton.schedules`, split along the seams a reader can name.

Import from :mod:`baton.schedules`; these modules are private and may move.

- ``specs``      the three schedule specs and ``ScheduleError``
- ``wallclock``  local wall-clock time <-> UTC, with the DST rules in one place
- ``cron``       cron parsing (precise errors) and wall-clock iteration
- ``rrules``     RFC 5545 rules via ``dateutil.rrule``, evaluated on wall-clock time
- ``timeline``   fire times for any spec: forward, backward, counting
- ``validation`` the one validation entry point shared by the CLI and the operator
- ``catchup``    which missed fire times to create after downtime
- ``naming``     deterministic FlowRun names (the name is the lock)
"""
