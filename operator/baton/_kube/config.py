"""Where the API server is and how to authenticate: kubeconfig or in-cluster.

A deliberately small loader (tokens, client certificates, CA bundles; no exec plugins)
so the flow runtime and the CLI reach the API server without importing the official
client, which costs a third of a second and tens of MiB at start-up.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(RuntimeError):
    """No usable cluster credentials were found, or they are malformed."""


@dataclass(frozen=True)
class Credentials:
    server: str
    namespace: str = "default"
    token: str | None = None
    token_file: Path | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    #: Where these came from, for error messages: the kubeconfig context's name, or None
    #: in a pod (the ServiceAccount's credentials).
    context: str | None = None
    #: Act as this user (and these groups): Kubernetes' impersonation, which the
    #: authenticating identity must be allowed (``impersonate`` on users and groups).
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()

    def bearer(self) -> str | None:
        """The token; a projected token file is re-read so rotation is picked up."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _materialize(data: str | None, path: str | None, base: Path) -> str | None:
    """A file path for a kubeconfig ``*-data`` (base64) or relative ``*`` entry."""
    if data:
        handle = tempfile.NamedTemporaryFile(prefix="baton-kube-", delete=False)  # noqa: SIM115
        handle.write(base64.b64decode(data))
        handle.close()
        return handle.name
    if path:
        return str((base / path).resolve())
    return None


def _named(entries: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            value: dict[str, Any] = entry.get(what) or {}
            return value
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def from_kubeconfig(path: Path, context: str | None = None) -> Credentials:
    import yaml  # noqa: PLC0415 - only paid for by kubeconfig users

    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read kubeconfig {path}: {error}") from error
    name = context or config.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context")
    ctx = _named(config.get("contexts", []), name, "context")
    cluster = _named(config.get("clusters", []), ctx["cluster"], "cluster")
    user = _named(config.get("users", []), ctx["user"], "user")
    base = path.parent
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            "kubeconfig exec/auth-provider credentials are not supported; "
            "use a token or client certificate"
        )
    token_file = user.get("tokenFile")
    return Credentials(
        server=cluster["server"].rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        token=user.get("token"),
        token_file=Path(base / token_file) if token_file else None,
        ca_file=_materialize(
            cluster.get("certificate-authority-data"), cluster.get("certificate-authority"), base
        ),
        cert_file=_materialize(
            user.get("client-certificate-data"), user.get("client-certificate"), base
        ),
        key_file=_materialize(user.get("client-key-data"), user.get("client-key"), base),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        context=name,
        # kubectl's "act as" fields of a user entry (kubectl --as / --as-group).
        impersonate=user.get("as") or None,
        impersonate_groups=tuple(user.get("as-groups") or ()),
    )


def in_cluster() -> Credentials:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (SERVICE_ACCOUNT_DIR / "token").exists():
        raise ConfigError("not running in a cluster")
    if ":" in host:
        host = f"[{host}]"
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    return Credentials(
        server=f"https://{host}:{port}",
        namespace=namespace_file.read_text().strip() if namespace_file.exists() else "default",
        token_file=SERVICE_ACCOUNT_DIR / "token",
        ca_file=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
    )


def load(kubeconfig: str | None = None, context: str | None = None) -> Credentials:
    """Credentials from ``kubeconfig``, ``$KUBECONFIG``, in-cluster, or ``~/.kube/config``."""
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    if explicit:
        return from_kubeconfig(Path(explicit.split(os.pathsep)[0]).expanduser(), context)
    try:
        return in_cluster()
    except ConfigError:
        pass
    default = Path.home() / ".kube" / "config"
    if default.exists():
        return from_kubeconfig(default, context)
    raise ConfigError(
        "no cluster credentials: set KUBECONFIG, pass --kubeconfig, or run inside a cluster"
    )
