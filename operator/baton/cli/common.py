"""What every cluster-facing ``baton`` command shares: connecting, parameters, errors.

Kept free of heavy imports at module level, so the parser (``baton --help``) stays fast;
the Kubernetes client is loaded by ``connect`` when a command actually needs it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton._kube.client import Kind, KubeClient

Json = dict[str, Any]

# The server and context of the last ``connect``, so a transport error can name them.
_TARGET: dict[str, str | None] = {}


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def parse_value(text: str) -> Any:
    """A parameter value: JSON when it parses (``3``, ``true``, ``[1,2]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_params(items: Iterable[str] | None) -> Json:
    """``["budget=120", "day=2026-01-01"]`` -> ``{"budget": 120, "day": "2026-01-01"}``."""
    params: Json = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"parameter {item!r} must look like name=value")
        params[key] = parse_value(value)
    return params


@dataclass
class Connection:
    client: KubeClient
    namespace: str
    kubeconfig: str | None
    context: str | None


def connect(args: argparse.Namespace) -> Connection:
    """A client for ``--kubeconfig``/``--context``; the namespace from ``-n`` or the context."""
    from baton._kube.client import KubeClient  # noqa: PLC0415
    from baton._kube.config import load  # noqa: PLC0415

    kubeconfig = getattr(args, "kubeconfig", None)
    context = getattr(args, "context", None)
    credentials = load(kubeconfig, context)
    _TARGET.update(server=credentials.server, context=credentials.context)
    namespace = getattr(args, "namespace", None) or credentials.namespace
    return Connection(KubeClient(credentials), namespace, kubeconfig, context)


def deployment_name(text: str) -> str:
    """A Deployment's name; Prefect's ``FLOW/DEPLOYMENT`` spelling is accepted too."""
    return text.rsplit("/", 1)[-1]


def get_or_fail(client: KubeClient, kind: Kind, name: str, namespace: str, what: str) -> Json:
    """The object, or ``CliError('flowrun "x" not found in namespace "y"')``."""
    from baton._kube.client import NotFound  # noqa: PLC0415

    try:
        return client.get(kind, name, namespace)
    except NotFound:
        raise CliError(f'{what} "{name}" not found in namespace "{namespace}"') from None


def describe_error(error: BaseException) -> str:
    """One line for an unexpected failure: what went wrong, never a traceback."""
    module = type(error).__module__
    if module.startswith("httpx") or module.startswith("httpcore"):
        return f"cannot reach the Kubernetes API server{_target()}: {error or type(error).__name__}"
    from baton._kube.client import ApiError  # noqa: PLC0415 - loaded already if raised

    if isinstance(error, ApiError):
        return error.message or str(error)
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror}: {error.filename}"
    text = str(error).strip().splitlines()
    known = ("ConfigError", "EntrypointError", "DeployError", "ScheduleError", "WorkerError")
    if type(error).__name__ in known and text:
        return text[0]
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _target() -> str:
    """`` at https://host:6443 (context "dev")`` for the last connection, or ``""``."""
    server, context = _TARGET.get("server"), _TARGET.get("context")
    if not server:
        return ""
    return f" at {server}" + (f' (context "{context}")' if context else " (in-cluster)")


def debug() -> bool:
    """``BATON_DEBUG=1`` shows tracebacks, for reporting bugs in Baton itself."""
    return os.environ.get("BATON_DEBUG", "") not in ("", "0")
