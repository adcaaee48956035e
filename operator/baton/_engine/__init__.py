"""Baton's execution engine: everything that runs a flow or task, kept private.

The public definitions (``baton.flows``, ``baton.tasks``) describe *what* runs;
this package decides *how*: states and retries (``task_engine``,
``flow_engine``), timeouts, caching stores, the thread task runner, the run
logger, run contexts, and the observer through which the in-cluster runtime
learns about runs. Nothing here imports Kubernetes clients or pydantic at
import time, so ``import baton`` stays cheap.
"""
