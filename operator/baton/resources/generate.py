"""Write ``crds/*.yaml``, the Helm chart's copy and docs/resources.md from the models.

python -m baton.resources.generate           # write
python -m baton.resources.generate --check   # exit 1 if any file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from baton.resources import KINDS, policy
from baton.resources.crd import custom_resource_definition
from baton.resources.reference import render

HEADER = "# Generated from operator/baton/resources by `make crds`. Do not edit.\n"


def rendered() -> dict[str, str]:
    """File name → YAML text for every CRD."""
    files = {}
    for kind in KINDS:
        body = yaml.safe_dump(custom_resource_definition(kind), sort_keys=False, width=100)
        files[f"{kind.crd_name}.yaml"] = HEADER + body
    return files


def status_policy_templates() -> dict[str, str]:
    """Chart template file name → text, for the FlowRun status policy and its binding.

    From ``resources/policy.py``; Helm fills in the release's names: the exempt
    usernames (the operator's ServiceAccount and ``flowRunStatusPolicy.exemptUsers``)
    and the objects' names.
    """
    name = '{{ include "baton.fullname" . }}-flowrun-status'
    exempt = '{{ printf "!(request.userInfo.username in %s)" ($exempt | toJson) | quote }}'
    files = {}
    for body in (policy.validating_admission_policy("EXEMPT"), policy.binding()):
        body["metadata"] = {"name": "RELEASE_NAME", "labels": "RELEASE_LABELS"}
        if body["kind"] == "ValidatingAdmissionPolicyBinding":
            body["spec"]["policyName"] = "RELEASE_NAME"
        for condition in body["spec"].get("matchConditions", []):
            if "EXEMPT" in condition["expression"]:
                condition["expression"] = "EXEMPT_CONDITION"
        text = yaml.safe_dump(body, sort_keys=False, width=100)
        text = text.replace("RELEASE_NAME", name).replace("EXEMPT_CONDITION", exempt)
        text = text.replace(
            "labels: RELEASE_LABELS", 'labels:\n    {{- include "baton.labels" . | nindent 4 }}'
        )
        files[f"flowrun-status-{body['kind'].lower()}.yaml"] = (
            "{{- /* Generated from operator/baton/resources/policy.py by `make crds`. "
            "Do not edit. */ -}}\n"
            "{{- if .Values.flowRunStatusPolicy.enabled }}\n"
            '{{- $operator := printf "system:serviceaccount:%s:%s" .Release.Namespace '
            '(include "baton.serviceAccountName" .) }}\n'
            "{{- $exempt := concat (list $operator) .Values.flowRunStatusPolicy.exemptUsers }}\n"
            + text
            + "{{- end }}\n"
        )
    return files


def outputs(root: Path) -> dict[Path, str]:
    """Every generated file and its content: the CRDs (twice) and the reference page."""
    files = {}
    for directory in (root / "crds", root / "charts" / "baton" / "crds"):
        for name, text in rendered().items():
            files[directory / name] = text
    files[root / "docs" / "resources.md"] = render(KINDS)
    for name, text in status_policy_templates().items():
        files[root / "charts" / "baton" / "templates" / name] = text
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs(args.root).items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(
            "stale generated files (run `make crds`): " + ", ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
