"""What every page handler shares: templates and their filters, the user's access, posts.

Posts carry a token bound to the signed-in identity and must name this server as their
Host, so a page on another site cannot make the user's browser create runs with the
user's credentials (``baton ui`` listens on localhost with the user's kubeconfig).
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from baton.ui.access import Access
from baton.ui.identity import Identities, Session

HERE = Path(__file__).parent
#: States that need attention, listed first wherever runs are counted (Prefect's order).
ATTENTION = ("Failed", "Crashed", "TimedOut", "Late")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _age(value: Any) -> str:
    if not isinstance(value, datetime):
        return "-"
    seconds = (datetime.now(UTC) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else "-"


def _markdown_html(text: str) -> Markup:
    # Raw HTML is off and markdown-it refuses javascript:/data: links: a tenant's artifact
    # cannot run script in the viewer's browser.
    return Markup(_markdown.render(text))


def _fromjson(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(age=_age, when=_when, markdown=_markdown_html, fromjson=_fromjson)
    env.globals.update(attention=ATTENTION)
    return env


class Ui:
    """What every handler shares: who is asking (``identities``), templates, Host check."""

    def __init__(self, identities: Identities, namespace: str) -> None:
        self.identities = identities
        self.namespace = namespace
        self.env = templates()
        self.hosts: set[str] = set()

    async def session(self, request: Request) -> Session:
        """The request's identity and its ``Access`` (``SignInRequired`` if none)."""
        return await self.identities.session(request)

    async def access(self, request: Request) -> Access:
        return (await self.session(request)).access

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        # Every page is in a namespace (error pages: the one asked for, else the default).
        context.setdefault("namespace", request.path_params.get("namespace", self.namespace))
        session: Session | None = getattr(request.state, "session", None)
        html = self.env.get_template(name).render(
            request=request,
            csrf=session.csrf if session else "",
            user=session.identity.user if session else "",
            auth=self.identities.authenticator.mode,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def fragment(self, session: Session, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(csrf=session.csrf, **context)

    async def checked_form(self, request: Request) -> dict[str, str]:
        """The posted form, after checking it came from a page rendered for this user.

        The form token is bound to the identity (an HMAC of it under a secret made at
        start), so a page on another site cannot post as the user, nor one user as another.
        """
        host = request.headers.get("host", "")
        if self.hosts and host not in self.hosts:
            raise HTTPException(400, f"unexpected Host header {host!r}")
        session = await self.session(request)
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not hmac.compare_digest(values.get("csrf", ""), session.csrf):
            raise HTTPException(403, "this form did not come from this Baton UI; reload the page")
        return values


def ui_of(request: Request) -> Ui:
    ui: Ui = request.app.state.ui
    return ui
