"""Automations: triggers on runs and Deployments, and the actions they take.

A component of its own (``baton automations``, the chart's ``automations`` Deployment),
not part of the operator, because it needs rights the operator must not have: reading
the Secrets its notifications name (limited by ``resourceNames``), pausing Deployments
and requesting cancels (spec writes). See docs/automations.md and docs/security.md.

* ``triggers`` — pure: which events an Automation sees in the cluster's state;
* ``templates`` — sandboxed, bounded Jinja rendering;
* ``senders`` — Slack/webhook (async httpx) and SMTP (a worker thread) I/O;
* ``actions`` — one action for one event;
* ``shorthand`` — ``Deployment.spec.notifications`` expanded into owned Automations;
* ``controller`` — the work queue, the durable delivery record, status and Events;
* ``app`` — the process: list, watch, run.
"""
