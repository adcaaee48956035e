"""The kopf operator: schedules become FlowRuns, FlowRuns become Jobs."""
