"""Where the API server is and how to authenticate: kubeconfig or in-cluster.

A small loader of its own, so the flow runtime and the CLI reach the API server without
importing the official client (a third of a second and tens of MiB at start-up). It
reads what kubectl reads: a ``KUBECONFIG`` list of files merged as kubectl merges them
(the first file to name a cluster, user or context wins, and the first current-context),
tokens and token files, client certificates and CA bundles inline or by path, exec
credential plugins (``client.authentication.k8s.io`` ``ExecCredential``: what EKS, GKE,
AKS and OIDC clusters use), impersonation, and the ServiceAccount in a pod. Legacy
``auth-provider`` entries are refused with a message naming the exec plugin that replaces
them.

Decoded credentials never touch the disk: CA bundles are handed to ``ssl`` as data, and a
client key is loaded through an anonymous in-memory file (``memfd``) that is closed as
soon as the SSL context holds it.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: ExecCredential versions Baton speaks (what kubectl 1.26+ speaks).
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
#: An exec credential is run again this long before it expires.
EXEC_REFRESH_MARGIN = timedelta(seconds=30)


class ConfigError(RuntimeError):
    """No usable cluster credentials were found, or they are malformed."""


@dataclass(frozen=True)
class ExecCredential:
    """What an exec plugin printed: a token, or a client certificate and key (PEM)."""

    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    expires: datetime | None = None


class ExecPlugin:
    """A kubeconfig user's ``exec`` entry: runs the command, keeps its credential until it
    expires (or for the process's life when it names no expiry, as kubectl does)."""

    def __init__(
        self,
        command: str,
        args: list[str],
        env: Mapping[str, str],
        api_version: str,
        cluster: Mapping[str, Any] | None = None,
    ) -> None:
        self.command = command
        self.args = args
        self.env = dict(env)
        self.api_version = api_version
        self.cluster = cluster
        self._lock = threading.Lock()
        self._credential: ExecCredential | None = None

    def credential(self, now: datetime | None = None) -> ExecCredential:
        with self._lock:
            moment = now or datetime.now(UTC)
            cached = self._credential
            if cached is None or (
                cached.expires is not None and cached.expires - EXEC_REFRESH_MARGIN <= moment
            ):
                cached = self._credential = self._run()
            return cached

    def _run(self) -> ExecCredential:
        import subprocess  # noqa: PLC0415 - only paid for by exec-plugin users

        spec: dict[str, Any] = {"interactive": False}
        if self.cluster is not None:
            spec["cluster"] = self.cluster
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            done = subprocess.run(
                [self.command, *self.args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                check=False,
            )
        except OSError as error:
            raise ConfigError(f"kubeconfig exec plugin {self.command!r}: {error}") from error
        if done.returncode != 0:
            raise ConfigError(
                f"kubeconfig exec plugin {self.command!r} exited with code {done.returncode}"
            )
        try:
            answer = json.loads(done.stdout)
            status = answer["status"]
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"kubeconfig exec plugin {self.command!r} printed no ExecCredential: {error}"
            ) from error
        if answer.get("apiVersion") != self.api_version:
            raise ConfigError(
                f"kubeconfig exec plugin {self.command!r} answered {answer.get('apiVersion')!r}, "
                f"asked for {self.api_version!r}"
            )
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if not status.get("token") and not (cert and key):
            raise ConfigError(
                f"kubeconfig exec plugin {self.command!r} gave neither a token nor a "
                "client certificate and key"
            )
        stamp = status.get("expirationTimestamp")
        return ExecCredential(
            token=status.get("token") or None,
            cert_data=cert.encode() if cert else None,
            key_data=key.encode() if key else None,
            expires=datetime.fromisoformat(str(stamp)) if stamp else None,
        )


@dataclass(frozen=True)
class Credentials:
    server: str
    namespace: str = "default"
    token: str | None = None
    token_file: Path | None = None
    ca_file: str | None = None
    #: A CA bundle given inline (``certificate-authority-data``), PEM.
    ca_data: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: A client certificate and key given inline (``client-*-data``), PEM, kept in memory.
    cert_data: bytes | None = None
    key_data: bytes | None = None
    exec_plugin: ExecPlugin | None = field(default=None, compare=False)
    insecure: bool = False
    #: Where these came from, for error messages: the kubeconfig context's name, or None
    #: in a pod (the ServiceAccount's credentials).
    context: str | None = None
    #: Act as this user (and these groups): Kubernetes' impersonation, which the
    #: authenticating identity must be allowed (``impersonate`` on users and groups).
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()

    def anonymous(self) -> Credentials:
        """The cluster's address and CA only: every way of proving who one is removed."""
        return replace(
            self,
            token=None,
            token_file=None,
            cert_file=None,
            key_file=None,
            cert_data=None,
            key_data=None,
            exec_plugin=None,
        )

    def bearer(self) -> str | None:
        """The token; a projected token file is re-read so rotation is picked up, and an
        exec plugin is run again when its token expires."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        if self.token is None and self.exec_plugin is not None:
            return self.exec_plugin.credential().token
        return self.token

    def client_certificate(self) -> tuple[bytes, bytes] | None:
        """The client certificate and key given as data (inline or by the exec plugin)."""
        if self.cert_data and self.key_data:
            return self.cert_data, self.key_data
        if self.exec_plugin is not None and not (self.cert_file or self.token):
            credential = self.exec_plugin.credential()
            if credential.cert_data and credential.key_data:
                return credential.cert_data, credential.key_data
        return None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=self.ca_file, cadata=self.ca_data.decode() if self.ca_data else None
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        else:
            inline = self.client_certificate()
            if inline is not None:
                _load_cert_chain_from_memory(context, *inline)
        return context


def _load_cert_chain_from_memory(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``ssl`` loads a certificate chain only from a path: give it an anonymous memory
    file (never on a file system), closed once the context holds the key."""
    pem = cert.rstrip(b"\n") + b"\n" + key
    if not hasattr(os, "memfd_create"):  # not Linux: a private file, gone once loaded
        with tempfile.TemporaryDirectory(prefix="baton-kube-") as private:
            path = os.path.join(private, "client.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, pem)
            finally:
                os.close(descriptor)
            context.load_cert_chain(path, path)
        return
    descriptor = os.memfd_create("baton-client-cert", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, pem)
        path = f"/proc/self/fd/{descriptor}"
        context.load_cert_chain(path, path)
    finally:
        os.close(descriptor)


def _decoded(data: str | None, what: str) -> bytes | None:
    if not data:
        return None
    try:
        return base64.b64decode(data)
    except ValueError as error:
        raise ConfigError(f"kubeconfig {what} is not base64: {error}") from error


def _path(value: str | None, base: Path) -> str | None:
    return str((base / value).resolve()) if value else None


def _named(config: dict[str, Any], what: str, name: str | None) -> tuple[dict[str, Any], Path]:
    """The ``what`` (cluster, user, context) called ``name``, and the directory its
    relative paths are relative to."""
    for entry in config.get(f"{what}s") or []:
        if entry.get("name") == name:
            value: dict[str, Any] = entry.get(what) or {}
            return value, Path(entry.get("_base") or ".")
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def _read(path: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415 - only paid for by kubeconfig users

    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read kubeconfig {path}: {error}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return config


def merge(paths: list[Path]) -> dict[str, Any]:
    """One kubeconfig from several, as kubectl merges a ``KUBECONFIG`` list: the first
    file to set ``current-context`` wins, and the first to name a cluster, user or
    context. Each entry remembers its file, so its relative paths resolve against it."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    for path in paths:
        config = _read(path)
        if not merged.get("current-context") and config.get("current-context"):
            merged["current-context"] = config["current-context"]
        for section in ("clusters", "users", "contexts"):
            seen = {entry.get("name") for entry in merged[section]}
            for entry in config.get(section) or []:
                if entry.get("name") not in seen:
                    merged[section].append({**entry, "_base": path.parent})
                    seen.add(entry.get("name"))
    return merged


def _exec_plugin(spec: dict[str, Any], base: Path, cluster: dict[str, Any]) -> ExecPlugin:
    api_version = spec.get("apiVersion") or ""
    if api_version not in EXEC_API_VERSIONS:
        raise ConfigError(
            f"kubeconfig exec apiVersion {api_version!r} is not one of "
            + ", ".join(EXEC_API_VERSIONS)
        )
    command = spec.get("command")
    if not command:
        raise ConfigError("kubeconfig exec entry has no command")
    # As kubectl: a command with a directory in it is relative to its kubeconfig's file.
    if os.sep in command and not os.path.isabs(command):
        command = str((base / command).resolve())
    env = {e["name"]: str(e.get("value", "")) for e in spec.get("env") or [] if e.get("name")}
    cluster_info = None
    if spec.get("provideClusterInfo"):
        cluster_info = {k: v for k, v in cluster.items() if k != "extensions"}
    return ExecPlugin(
        command, [str(a) for a in spec.get("args") or []], env, api_version, cluster_info
    )


def from_config(config: dict[str, Any], context: str | None, where: str) -> Credentials:
    """Credentials for ``context`` (default: the current one) of a loaded kubeconfig."""
    name = context or config.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {where} has no current-context")
    ctx, _ = _named(config, "context", name)
    cluster, cluster_base = _named(config, "cluster", ctx.get("cluster"))
    user, user_base = _named(config, "user", ctx.get("user"))
    if "auth-provider" in user:
        raise ConfigError(
            "kubeconfig auth-provider credentials are not supported (kubectl dropped them "
            "too); use the provider's exec plugin (an `exec:` user)"
        )
    token_file = user.get("tokenFile")
    return Credentials(
        server=cluster["server"].rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        token=user.get("token"),
        token_file=Path(user_base / token_file) if token_file else None,
        ca_file=_path(cluster.get("certificate-authority"), cluster_base),
        ca_data=_decoded(cluster.get("certificate-authority-data"), "certificate-authority-data"),
        cert_file=_path(user.get("client-certificate"), user_base),
        key_file=_path(user.get("client-key"), user_base),
        cert_data=_decoded(user.get("client-certificate-data"), "client-certificate-data"),
        key_data=_decoded(user.get("client-key-data"), "client-key-data"),
        exec_plugin=_exec_plugin(user["exec"], user_base, cluster) if user.get("exec") else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        context=name,
        # kubectl's "act as" fields of a user entry (kubectl --as / --as-group).
        impersonate=user.get("as") or None,
        impersonate_groups=tuple(user.get("as-groups") or ()),
    )


def from_kubeconfig(path: Path | list[Path], context: str | None = None) -> Credentials:
    """Credentials from one kubeconfig file, or from a list merged as ``KUBECONFIG`` is."""
    paths = [path] if isinstance(path, Path) else path
    where = os.pathsep.join(str(p) for p in paths)
    return from_config(merge(paths), context, where)


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


def kubeconfig_paths(value: str) -> list[Path]:
    """The files of a ``KUBECONFIG`` value (``os.pathsep``-separated); as kubectl, the
    ones that do not exist are skipped (all of them missing is an error)."""
    listed = [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    existing = [p for p in listed if p.exists()]
    if not existing:
        raise ConfigError(f"cannot read kubeconfig {value}: none of its files exists")
    return existing


def load(kubeconfig: str | None = None, context: str | None = None) -> Credentials:
    """Credentials from ``kubeconfig``, ``$KUBECONFIG``, in-cluster, or ``~/.kube/config``."""
    if kubeconfig:
        return from_kubeconfig(Path(kubeconfig).expanduser(), context)
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return from_kubeconfig(kubeconfig_paths(listed), context)
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
