"""The kubeconfig loader (``baton._kube.config``): exec credential plugins, merged
``KUBECONFIG`` lists, and inline credentials that never reach the disk."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton._kube import config
from baton._kube.config import ConfigError, Credentials

pytestmark = pytest.mark.unit

PLUGIN = """
import json, os
calls = os.environ["CALLS"]
with open(calls, "a") as f:
    f.write("x")
count = len(open(calls).read())
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1beta1",
    "kind": "ExecCredential",
    "status": {"token": f"token-{count}-{os.environ['EXTRA']}",
               "expirationTimestamp": os.environ.get("EXPIRES") or None},
}))
"""


def kubeconfig(path: Path, **sections: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **sections}))
    return path


def single(tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    return kubeconfig(
        tmp_path / "config",
        clusters=[{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}}],
        users=[{"name": "u", "user": user}],
        contexts=[{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
        **{"current-context": "x"},
    )


def exec_user(tmp_path: Path, expires: str = "") -> dict[str, Any]:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(tmp_path / "plugin.py")],
            "env": [
                {"name": "CALLS", "value": str(tmp_path / "calls")},
                {"name": "EXTRA", "value": "e"},
                {"name": "EXPIRES", "value": expires},
            ],
        }
    }


def test_an_exec_plugin_gives_the_token_and_is_kept_until_it_expires(tmp_path: Path) -> None:
    credentials = config.from_kubeconfig(single(tmp_path, exec_user(tmp_path)))
    assert credentials.bearer() == "token-1-e"
    assert credentials.bearer() == "token-1-e"  # no expiry: kept for the process
    soon = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    expiring = config.from_kubeconfig(single(tmp_path, exec_user(tmp_path, expires=soon)))
    assert expiring.bearer() == "token-2-e"
    assert expiring.bearer() == "token-3-e"  # within the refresh margin: asked again
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    lasting = config.from_kubeconfig(single(tmp_path, exec_user(tmp_path, expires=later)))
    assert [lasting.bearer(), lasting.bearer()] == ["token-4-e", "token-4-e"]


def test_a_failing_or_silent_exec_plugin_is_a_config_error(tmp_path: Path) -> None:
    user = exec_user(tmp_path)
    user["exec"]["args"] = ["-c", "raise SystemExit(3)"]
    with pytest.raises(ConfigError, match="exited with code 3"):
        config.from_kubeconfig(single(tmp_path, user)).bearer()
    user["exec"]["args"] = ["-c", "print('{}')"]
    with pytest.raises(ConfigError, match="no ExecCredential"):
        config.from_kubeconfig(single(tmp_path, user)).bearer()
    user["exec"]["apiVersion"] = "client.authentication.k8s.io/v1alpha1"
    with pytest.raises(ConfigError, match="apiVersion"):
        config.from_kubeconfig(single(tmp_path, user))


def test_auth_providers_are_refused_naming_exec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exec plugin"):
        config.from_kubeconfig(single(tmp_path, {"auth-provider": {"name": "oidc"}}))


def test_a_kubeconfig_list_merges_first_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kubeconfig(
        tmp_path / "a" / "config",
        contexts=[{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        users=[{"name": "u", "user": {"tokenFile": "token"}}],
        **{"current-context": "x"},
    )
    second = kubeconfig(
        tmp_path / "b" / "config",
        clusters=[
            {
                "name": "c",
                "cluster": {"server": "https://second", "certificate-authority": "ca.crt"},
            }
        ],
        users=[{"name": "u", "user": {"token": "second's"}}],
        contexts=[{"name": "x", "context": {"cluster": "nope", "user": "u"}}],
        **{"current-context": "y"},
    )
    (tmp_path / "a" / "token").write_text("first's\n")
    listed = os.pathsep.join([str(tmp_path / "missing"), str(first), str(second)])
    monkeypatch.setenv("KUBECONFIG", listed)
    credentials = config.load()
    assert (credentials.server, credentials.context, credentials.bearer()) == (
        "https://second",
        "x",
        "first's",
    )
    assert credentials.ca_file == str((tmp_path / "b" / "ca.crt").resolve())
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot read kubeconfig"):
        config.load()


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    where = tmp_path_factory.mktemp("pki")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=baton-test",
            "-days",
            "1",
            "-keyout",
            str(where / "key.pem"),
            "-out",
            str(where / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return (where / "cert.pem").read_bytes(), (where / "key.pem").read_bytes()


def test_inline_credentials_never_reach_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pem: tuple[bytes, bytes]
) -> None:
    cert, key = pem
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    encoded = {k: base64.b64encode(v).decode() for k, v in {"cert": cert, "key": key}.items()}
    path = single(
        tmp_path,
        {"client-certificate-data": encoded["cert"], "client-key-data": encoded["key"]},
        {"server": "https://127.0.0.1:6443", "certificate-authority-data": encoded["cert"]},
    )
    credentials = config.from_kubeconfig(path)
    assert (credentials.cert_file, credentials.key_file, credentials.ca_file) == (None, None, None)
    context = credentials.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "baton-test"),),)]
    assert list(scratch.iterdir()) == []
    wrong = single(
        tmp_path, {"client-certificate-data": encoded["cert"], "client-key-data": encoded["cert"]}
    )
    with pytest.raises(ssl.SSLError):
        config.from_kubeconfig(wrong).ssl_context()


def test_anonymous_credentials_keep_only_the_cluster(tmp_path: Path) -> None:
    credentials = config.from_kubeconfig(single(tmp_path, exec_user(tmp_path)))
    full = Credentials(
        server="https://s",
        token="t",
        token_file=Path("f"),
        ca_data=b"ca",
        cert_file="c",
        key_file="k",
        cert_data=b"c",
        key_data=b"k",
        exec_plugin=credentials.exec_plugin,
    )
    bare = full.anonymous()
    assert (bare.server, bare.ca_data) == ("https://s", b"ca")
    assert bare.bearer() is None and bare.client_certificate() is None
    assert (bare.cert_file, bare.key_file, bare.exec_plugin) == (None, None, None)
