"""Write argocd/argocd-cm.yaml from the health checks in argocd/resource_customizations/.

The checks are kept in the layout Argo CD ships its built-in ones in
(``resource_customizations/<group>/<Kind>/health.lua`` beside ``health_test.yaml`` and
``testdata/``), so they can be contributed upstream as they are. Those .lua files are
the source; the ConfigMap snippet is generated so the two cannot drift
(tests/unit/test_argocd_health.py fails when they do):

    .venv/bin/python hack/argocd_cm.py           # rewrite argocd/argocd-cm.yaml
    .venv/bin/python hack/argocd_cm.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CUSTOMIZATIONS = ROOT / "argocd" / "resource_customizations"
TARGET = ROOT / "argocd" / "argocd-cm.yaml"
GROUP = "baton.dev"

HEADER = """\
# Generated from argocd/resource_customizations/baton.dev/*/health.lua by
# hack/argocd_cm.py (make argocd-cm). Do not edit.
#
# Argo CD health checks for Baton's resources. Merge these keys into Argo CD's
# argocd-cm ConfigMap (docs/argocd.md), e.g.
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd/argocd-cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
"""


def health_key(kind: str) -> str:
    """Argo CD's per-kind key: resource.customizations.health.<group>_<kind>."""
    return f"resource.customizations.health.{GROUP}_{kind}"


def scripts() -> dict[str, str]:
    """Kind -> Lua source of its health.lua, sorted by kind."""
    return {
        path.parent.name: path.read_text()
        for path in sorted((CUSTOMIZATIONS / GROUP).glob("*/health.lua"))
    }


def render() -> str:
    parts = [HEADER]
    for kind, source in scripts().items():
        if "\t" in source or any(line != line.rstrip() for line in source.splitlines()):
            raise SystemExit(
                f"{kind}/health.lua: tabs or trailing spaces break a YAML block literal"
            )
        parts.append(f"  {health_key(kind)}: |\n")
        parts.extend(f"    {line}\n" if line else "\n" for line in source.rstrip("\n").split("\n"))
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is out of date: run hack/argocd_cm.py\n")
            return 1
        return 0
    TARGET.write_text(text)
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
