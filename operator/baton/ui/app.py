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
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from baton._kube.client import ApiError
from baton._kube.config import Credentials
from baton.ui import dashboard, deployments, flows, pools, runs, schedules
from baton.ui.core import HERE, Ui, ui_of
from baton.ui.identity import (
    SESSION_COOKIE,
    Authenticator,
    BearerTokens,
    Identities,
    KubeconfigUser,
    SignInRequired,
)


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


async def _sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    ui = ui_of(request)
    if isinstance(ui.identities.authenticator, BearerTokens):
        return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)
    return ui.render(
        request,
        "error.html",
        status=401,
        title="401 Unauthorized",
        message=error.message,
        source="the Baton UI",
    )


async def _home(request: Request) -> Response:
    return RedirectResponse(f"/namespaces/{ui_of(request).namespace}/", status_code=307)


def _safe_next(value: str) -> str:
    """Only a path of this UI (never another site) to go to after signing in."""
    return value if value.startswith("/") and not value.startswith("//") else "/"


async def _sign_in(request: Request) -> Response:
    """Token mode: a form for a bearer token; the API server says whose it is."""
    ui = ui_of(request)
    tokens = ui.identities.authenticator
    if not isinstance(tokens, BearerTokens):
        return RedirectResponse("/", status_code=303)
    target = _safe_next(request.query_params.get("next", "/"))
    if request.method == "GET":
        return ui.render(request, "sign_in.html", next=target, problem="")
    form = await request.form()
    token = str(form.get("token") or "")
    try:
        sid = await tokens.sign_in(token)
    except ApiError as error:
        return ui.render(
            request,
            "sign_in.html",
            status=401,
            next=target,
            problem=f"the API server refused this token: {error.status} {error.message}",
        )
    response = RedirectResponse(_safe_next(str(form.get("next") or target)), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def _sign_out(request: Request) -> Response:
    ui = ui_of(request)
    await ui.checked_form(request)
    tokens = ui.identities.authenticator
    if isinstance(tokens, BearerTokens):
        tokens.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def create_app(
    credentials: Credentials,
    *,
    namespace: str | None = None,
    user: str = "",
    authenticator: Authenticator | None = None,
) -> Starlette:
    """The UI; pages open at ``namespace``. Calls are made as ``authenticator`` says
    (default: the one user ``credentials`` belong to)."""
    identities = Identities(authenticator or KubeconfigUser(credentials, user))
    ui = Ui(identities, namespace or credentials.namespace)
    ns = "/namespaces/{namespace}"

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await identities.close()

    app = Starlette(
        routes=[
            Route("/", _home),
            Route("/sign-in", _sign_in, methods=["GET", "POST"]),
            Route("/sign-out", _sign_out, methods=["POST"]),
            Route(f"{ns}/", dashboard.page),
            Route(f"{ns}/deployments", deployments.list_page),
            Route(f"{ns}/deployments/{{name}}", deployments.detail),
            Route(f"{ns}/deployments/{{name}}/runs", deployments.create_run, methods=["POST"]),
            Route(f"{ns}/deployments/{{name}}/schedules", schedules.add, methods=["POST"]),
            Route(
                f"{ns}/deployments/{{name}}/schedules/remove", schedules.remove, methods=["POST"]
            ),
            Route(f"{ns}/deployments/{{name}}/schedules/preview", schedules.preview),
            Route(f"{ns}/deployments/{{name}}/pause", schedules.pause, methods=["POST"]),
            Route(f"{ns}/runs", runs.list_page),
            Route(f"{ns}/runs/{{name}}", runs.detail),
            Route(f"{ns}/runs/{{name}}/cancel", runs.cancel, methods=["POST"]),
            Route(f"{ns}/runs/{{name}}/retry", runs.retry, methods=["POST"]),
            Route(f"{ns}/pools", pools.list_page),
            Route(f"{ns}/pools/{{name}}", pools.detail),
            Route(f"{ns}/flows", flows.list_page),
            Route(f"{ns}/flows/{{name}}", flows.detail),
            Route(f"{ns}/runs/{{name}}/events", runs.events),
            Route(f"{ns}/runs/{{name}}/log", runs.log_tail),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={
            ApiError: _api_error,
            httpx.TransportError: _unreachable,
            HTTPException: _http_error,
            SignInRequired: _sign_in_required,
        },
        lifespan=lifespan,
    )
    app.state.ui = ui
    return app


def serve(
    credentials: Credentials,
    *,
    host: str,
    port: int,
    namespace: str | None,
    user: str,
    authenticator: Authenticator | None = None,
) -> None:
    """Serve the UI until interrupted."""
    import uvicorn  # noqa: PLC0415

    app = create_app(credentials, namespace=namespace, user=user, authenticator=authenticator)
    ui: Ui = app.state.ui
    if authenticator is None:
        # On a laptop the UI must be asked for by its own address (DNS rebinding); in a
        # cluster it is reached through a Service or an ingress under other names.
        ui.hosts = {f"{host}:{port}", f"localhost:{port}" if host == "127.0.0.1" else ""}
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    sys.stdout.write(f"Baton UI on http://{host}:{port}/ (namespace {ui.namespace})\n")
    sys.stdout.flush()
    uvicorn.Server(config).run()
