"""What every page handler shares: templates and their filters, the user's access, posts.

Posts carry a token minted when the server starts and must name this server as their
Host, so a page on another site cannot make the user's browser create runs with the
user's credentials (the UI listens on localhost with the user's kubeconfig).
"""

from __future__ import annotations

import hmac
import json
import secrets
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
    """What every handler shares: the user's API access, templates and the post token."""

    def __init__(self, access: Access, namespace: str, user: str) -> None:
        self.access = access
        self.namespace = namespace
        self.user = user
        self.env = templates()
        self.token = secrets.token_urlsafe(24)
        self.hosts: set[str] = set()

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        # Every page is in a namespace (error pages: the one asked for, else the default).
        context.setdefault("namespace", request.path_params.get("namespace", self.namespace))
        html = self.env.get_template(name).render(
            request=request, csrf=self.token, user=self.user, **context
        )
        return HTMLResponse(html, status_code=status)

    def fragment(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(csrf=self.token, **context)

    async def checked_form(self, request: Request) -> dict[str, str]:
        """The posted form, after checking it came from a page this server rendered."""
        host = request.headers.get("host", "")
        if self.hosts and host not in self.hosts:
            raise HTTPException(400, f"unexpected Host header {host!r}")
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not hmac.compare_digest(values.get("csrf", ""), self.token):
            raise HTTPException(403, "this form did not come from this Baton UI; reload the page")
        return values


def ui_of(request: Request) -> Ui:
    ui: Ui = request.app.state.ui
    return ui
