"""Vendor the UI's JavaScript from the npm registry into the package.

``ui/package.json`` names the packages and ``ui/package-lock.json`` pins each one's version
and tarball integrity (no registry URLs: the lock stays host-free). This script runs
``npm ci`` (which checks every tarball against the lock's integrity), copies the one built
file Baton serves from each package into ``operator/baton/ui/static/vendor/``, and writes
``SOURCES.json`` there: package, version, integrity and the sha256 of the copied file.
``tests/packaging/test_ui_assets.py`` re-downloads each tarball through npm, checks it
against the lock and the vendored bytes against the tarball.

Run it after changing ``ui/package.json``: ``python hack/ui_assets.py``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "ui"
VENDOR = ROOT / "operator" / "baton" / "ui" / "static" / "vendor"

#: npm package -> the file inside it (relative to the package root) that the UI serves.
FILES = {
    "htmx.org": "dist/htmx.min.js",
    "htmx-ext-sse": "dist/sse.min.js",
}


def main() -> int:
    subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=UI, check=True)
    lock = json.loads((UI / "package-lock.json").read_text())
    VENDOR.mkdir(parents=True, exist_ok=True)
    sources = {}
    for package, inner in FILES.items():
        entry = lock["packages"][f"node_modules/{package}"]
        target = VENDOR / Path(inner).name
        shutil.copyfile(UI / "node_modules" / package / inner, target)
        sources[target.name] = {
            "package": package,
            "version": entry["version"],
            "integrity": entry["integrity"],
            "path": inner,
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        }
    (VENDOR / "SOURCES.json").write_text(json.dumps(sources, indent=2, sort_keys=True) + "\n")
    print(f"vendored {', '.join(sources)} into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
