"""The Baton UI: server-rendered pages over the Kubernetes API, as the signed-in user.

No database: every page reads the API server (paginated with ``limit``/``continue``,
filtered by label and field selectors) with the caller's own credentials, so Kubernetes
RBAC decides what a person sees and may do. ``app`` assembles the Starlette application;
one module per page area (``dashboard``, ``deployments``, ``runs``); ``forms`` turns a
Flow's ``parameterSchema`` into a form and a submitted form back into parameters;
``access`` holds the calls the pages make (pages, access reviews, a watch on one run).
Installed with the ``ui`` extra: ``pip install "baton[ui]"``.
"""
