"""The Starlette application behind ``baton ui``: routes, error pages, serving.

Pages are thin: each handler in ``dashboard``/``deployments``/``runs`` reads through
``Access`` and renders a template. A refused call shows the API server's own reason with
its status code: the UI makes no permission decisions of its own, it only hides buttons
an access review says would be refused.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from baton._kube.client import ApiError, AsyncKubeClient
from baton._kube.config import Credentials
from baton.ui import dashboard, deployments, runs
from baton.ui.access import Access
from baton.ui.core import HERE, Ui, ui_of


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return ui_of(request).render(
        request,
        "error.html",
        status=error.status,
        title=f"{error.status} {error.reason}",
        message=error.message,
        source="the Kubernetes API server",
    )


async def _unreachable(request: Request, error: Exception) -> Response:
    return ui_of(request).render(
        request,
        "error.html",
        status=502,
        title="Cannot reach the Kubernetes API server",
        message=str(error) or type(error).__name__,
        source="the network",
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return ui_of(request).render(
        request,
        "error.html",
        status=error.status_code,
        title=str(error.status_code),
        message=error.detail,
        source="the Baton UI",
    )


async def _home(request: Request) -> Response:
    return RedirectResponse(f"/namespaces/{ui_of(request).namespace}/", status_code=307)


def create_app(
    credentials: Credentials, *, namespace: str | None = None, user: str = ""
) -> Starlette:
    """The UI for the user ``credentials`` belong to; pages open at ``namespace``."""
    client = AsyncKubeClient(credentials)
    ui = Ui(Access(client), namespace or credentials.namespace, user)
    ns = "/namespaces/{namespace}"

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await ui.access.close()
        await client.aclose()

    app = Starlette(
        routes=[
            Route("/", _home),
            Route(f"{ns}/", dashboard.page),
            Route(f"{ns}/deployments", deployments.list_page),
            Route(f"{ns}/deployments/{{name}}", deployments.detail),
            Route(f"{ns}/deployments/{{name}}/runs", deployments.create_run, methods=["POST"]),
            Route(f"{ns}/runs", runs.list_page),
            Route(f"{ns}/runs/{{name}}", runs.detail),
            Route(f"{ns}/runs/{{name}}/cancel", runs.cancel, methods=["POST"]),
            Route(f"{ns}/runs/{{name}}/events", runs.events),
            Route(f"{ns}/runs/{{name}}/log", runs.log_tail),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={
            ApiError: _api_error,
            httpx.TransportError: _unreachable,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.ui = ui
    return app


def serve(
    credentials: Credentials, *, host: str, port: int, namespace: str | None, user: str
) -> None:
    """Serve the UI until interrupted."""
    import uvicorn  # noqa: PLC0415

    app = create_app(credentials, namespace=namespace, user=user)
    ui: Ui = app.state.ui
    ui.hosts = {f"{host}:{port}", f"localhost:{port}" if host == "127.0.0.1" else f"{host}:{port}"}
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    sys.stdout.write(f"Baton UI on http://{host}:{port}/ (namespace {ui.namespace})\n")
    sys.stdout.flush()
    uvicorn.Server(config).run()
