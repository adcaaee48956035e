"""The UI's JavaScript is the npm registry's, as locked, and nothing loads from elsewhere.

``hack/ui_assets.py`` vendors one file of each package named in ``ui/package-lock.json``
into ``operator/baton/ui/static/vendor/`` and records it in ``SOURCES.json``. Here each
package's tarball is fetched again through npm, checked against the lock's integrity, and
the vendored file compared byte for byte with the one inside it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "ui" / "package-lock.json"
VENDOR = ROOT / "operator" / "baton" / "ui" / "static" / "vendor"
TEMPLATES = ROOT / "operator" / "baton" / "ui" / "templates"


def sources() -> dict[str, dict[str, str]]:
    recorded: dict[str, dict[str, str]] = json.loads((VENDOR / "SOURCES.json").read_text())
    return recorded


def test_vendored_files_are_the_locked_versions() -> None:
    lock = json.loads(LOCK.read_text())
    assert sources(), "nothing vendored"
    for filename, source in sources().items():
        entry = lock["packages"][f"node_modules/{source['package']}"]
        assert (source["version"], source["integrity"]) == (entry["version"], entry["integrity"])
        digest = hashlib.sha256((VENDOR / filename).read_bytes()).hexdigest()
        assert digest == source["sha256"], f"{filename} changed since it was vendored"
    assert sorted(p.name for p in VENDOR.iterdir()) == sorted([*sources(), "SOURCES.json"])


def test_vendored_files_match_the_registry_tarballs(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed to check the vendored UI assets against the registry"
    for filename, source in sources().items():
        spec = f"{source['package']}@{source['version']}"
        packed = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        tarball = tmp_path / json.loads(packed.stdout)[0]["filename"]
        data = tarball.read_bytes()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        assert integrity == source["integrity"], f"{spec}: tarball differs from the lock"
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.extractfile(f"package/{source['path']}")
            assert member is not None
            assert member.read() == (VENDOR / filename).read_bytes(), filename


def test_no_registry_host_and_no_remote_scripts() -> None:
    assert '"resolved"' not in LOCK.read_text(), "the lock must not name a registry host"
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        remote = re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', text)
        assert not remote, f"{template.name} loads {remote}"


@pytest.mark.parametrize("name", ["htmx.min.js", "sse.min.js"])
def test_pages_load_the_vendored_scripts(name: str) -> None:
    assert f'src="/static/vendor/{name}"' in (TEMPLATES / "base.html").read_text()
