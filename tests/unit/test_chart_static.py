"""Static checks of the chart, the Dockerfiles and the kind config: no cluster, no helm.

Rendering and applying the chart is tests/integration/test_chart.py's job. Building
the images needs a Docker engine, which CI and the development machines here do not
have: hack/build-images.sh builds them where one runs, and this module checks what can
be checked without one (targets, base pinning, the non-root user, the locked install).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "charts" / "baton"

pytestmark = pytest.mark.unit


def chart() -> dict[str, Any]:
    meta: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return meta


# -- Chart.yaml and values.yaml ------------------------------------------------------------
def test_chart_metadata() -> None:
    meta = chart()
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "baton"
    assert meta["type"] == "application"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["appVersion"] == project["version"] == "0.1.0"
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])


def _chart_readme() -> Any:
    """hack/chart_readme.py, the one parser of values.yaml's comments."""
    spec = importlib.util.spec_from_file_location("chart_readme", ROOT / "hack" / "chart_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_value_is_documented_by_a_comment_starting_with_its_name() -> None:
    """The comment block right above each key starts with the key's name, either its
    own name or its dotted path (Helm's best practice for values)."""
    text = (CHART / "values.yaml").read_text()
    keys = _chart_readme().parse(text)
    assert len(keys) > 60
    undocumented = [
        v.path
        for v in keys
        if not re.match(
            rf"({re.escape(v.path)}|{re.escape(v.path.split('.')[-1])})(?![\w.])", v.description
        )
    ]
    assert undocumented == []
    # And the parser saw every value yaml sees.
    values = yaml.safe_load(text)

    def paths(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return set()
        out = set()
        for key, child in node.items():
            path = f"{prefix}{key}"
            out |= {path} | paths(child, f"{path}.")
        return out

    assert paths(values) == {v.path for v in keys}


def test_chart_readme_is_generated_from_values() -> None:
    """charts/baton/README.md is hack/chart_readme.py's output for today's values.yaml."""
    module = _chart_readme()
    committed = (CHART / "README.md").read_text()
    assert committed == module.render(), "charts/baton/README.md is stale: run make chart-readme"
    # Every value is a row with its type and default, in values.yaml's order.
    rows = re.findall(r"^\| `([\w.]+)` \| (\w+) \| `(.*?)` \| ", committed, flags=re.M)
    leaves = [v for v in module.parse((CHART / "values.yaml").read_text()) if v.is_leaf]
    assert [r[0] for r in rows] == [v.path for v in leaves]
    by_path = {r[0]: r for r in rows}
    assert by_path["replicaCount"][1:] == ("int", "1")
    assert by_path["image.repository"][1:] == ("string", '"baton-operator"')
    assert by_path["crds.upgrade"][1:] == ("bool", "true")
    assert by_path["operator.watchNamespaces"][1:] == ("list", "[]")
    assert by_path["defaultWorkPool.concurrencyLimit"][1:] == ("null", "null")
    # Not shipped in the packaged chart: only its output is.
    assert "README.md.gotmpl" in (CHART / ".helmignore").read_text().splitlines()


def test_readme_of_changed_values_differs(tmp_path: Path) -> None:
    """The drift check sees a value's default and its comment change."""
    module = _chart_readme()
    text = (CHART / "values.yaml").read_text()
    before = module.values_section(module.parse(text))
    changed = text.replace("replicaCount: 1", "replicaCount: 3").replace(
        "# operator.verbose turns on debug logging", "# operator.verbose logs everything"
    )
    after = module.values_section(module.parse(changed))
    assert "| `replicaCount` | int | `3` |" in after and "`replicaCount` | int | `3`" not in before
    assert "operator.verbose logs everything" in after


def test_values_schema_covers_every_top_level_value() -> None:
    import json  # noqa: PLC0415

    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert schema["additionalProperties"] is False
    assert set(values) <= set(schema["properties"])


def test_values_defaults_that_the_docs_promise() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["replicaCount"] == 1
    assert values["rbac"]["create"] is True
    assert values["serviceAccount"] == {
        "create": True,
        "name": "",
        "annotations": {},
        "automountServiceAccountToken": True,
    }
    assert values["runner"]["namespaces"] == []
    assert values["runner"]["serviceAccount"]["name"] == "baton-runner"
    assert values["defaultWorkPool"]["create"] is True
    assert values["metrics"]["port"] == 9090
    assert values["metrics"]["serviceMonitor"]["enabled"] is False
    assert values["image"]["repository"] == "baton-operator"
    assert values["image"]["tag"] == ""  # appVersion
    security = values["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


# -- templates -----------------------------------------------------------------------------
def test_one_resource_kind_per_template_file_named_after_it() -> None:
    templates = sorted((CHART / "templates").glob("*.yaml"))
    assert templates
    for path in templates:
        kinds = set(re.findall(r"^kind: (\w+)$", path.read_text(), flags=re.MULTILINE))
        assert len(kinds) == 1, f"{path.name}: {kinds}"
        kind = kinds.pop().lower()
        assert path.stem.replace("-", "").endswith(kind), f"{path.name} does not name {kind}"
        assert re.fullmatch(r"[a-z0-9-]+", path.stem), "dashed file names (best practice)"


def test_templates_use_namespaced_helper_names_and_no_tabs() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    defined = re.findall(r'define "([^"]+)"', helpers)
    assert defined and all(name.startswith("baton.") for name in defined)
    for path in (CHART / "templates").iterdir():
        text = path.read_text()
        assert "\t" not in text, path.name
        for used in re.findall(r'include "([^"]+)"', text):
            assert used in defined, f"{path.name} includes unknown {used}"


def test_chart_crds_are_the_generated_ones() -> None:
    """crds/ is copied into the chart by `make crds`; the chart must not diverge."""
    ours = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    generated = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    assert ours == generated and len(ours) == 5


def test_crd_upgrades_are_the_operators_with_rights_on_those_crds_only() -> None:
    """crds.upgrade passes --upgrade-crds and grants get/patch on Baton's CRDs by name.

    No CRD is a template: the chart's WorkPool could not be mapped on a fresh install
    (operator/baton/controller/crds.py says why the operator applies them instead).
    """
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["crds"] == {"upgrade": True}
    for path in (CHART / "templates").glob("*.yaml"):
        assert "kind: CustomResourceDefinition" not in path.read_text(), path.name
    deployment = (CHART / "templates" / "operator-deployment.yaml").read_text()
    assert "{{- if .Values.crds.upgrade }}\n            - --upgrade-crds\n" in deployment
    role = (CHART / "templates" / "operator-clusterrole.yaml").read_text()
    names = sorted(p.name.removesuffix(".yaml") for p in (ROOT / "crds").glob("*.yaml"))
    rule = re.search(
        r"\{\{- if \.Values\.crds\.upgrade \}\}\n(?:  #.*\n)*"
        r'  - apiGroups: \["apiextensions.k8s.io"\]\n'
        r'    resources: \["customresourcedefinitions"\]\n'
        r"    resourceNames:\n((?:      - \S+\n)+)"
        r'    verbs: \["get", "patch"\]\n  \{\{- end \}\}',
        role,
    )
    assert rule, "the CRD upgrade rule"
    assert sorted(line.strip("- ") for line in rule.group(1).splitlines()) == names


def _probe(template: str, name: str) -> tuple[str, str]:
    """(path, port) of the httpGet of probe ``name`` in the Deployment template."""
    match = re.search(
        rf"^ +{name}:\n +httpGet:\n +path: (\S+)\n +port: (\S+)$", template, flags=re.M
    )
    assert match, name
    return match.group(1), match.group(2)


def test_readiness_and_liveness_are_different_probes() -> None:
    """Liveness is kopf's cheap /healthz; readiness the operator's /readyz, each on the
    port the container declares and the operator is told to serve it on."""
    template = (CHART / "templates" / "operator-deployment.yaml").read_text()
    liveness, readiness = _probe(template, "livenessProbe"), _probe(template, "readinessProbe")
    assert liveness == ("/healthz", "health")
    assert readiness == ("/readyz", "ready")
    assert liveness != readiness
    ports = dict(
        re.findall(r"- name: (\w+)\n +containerPort: \{\{ \.Values\.([\w.]+) \}\}", template)
    )
    assert ports["health"] == "operator.healthPort"
    assert ports["ready"] == "operator.readinessPort"
    assert "- --liveness=http://0.0.0.0:{{ .Values.operator.healthPort }}/healthz" in template
    assert "- --readiness=http://0.0.0.0:{{ .Values.operator.readinessPort }}/readyz" in template
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["operator"]["healthPort"] != values["operator"]["readinessPort"]


# -- Dockerfiles ---------------------------------------------------------------------------
def stages(dockerfile: str) -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    result: dict[str, list[str]] = {"": []}
    current = ""
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, flags=re.IGNORECASE)
        if match:
            current = match.group(2) or f"<{match.group(1)}>"
            result[current] = [line]
        else:
            result[current].append(line)
    return result


def test_dockerfile_targets_base_and_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    found = stages(text)
    assert {"uv", "builder", "operator-builder", "image", "runtime", "operator"} <= set(found)
    # The base is a build argument pinned by digest, declared before the first FROM.
    preamble = found[""]
    base = next(i for i in preamble if i.startswith("ARG BASE_IMAGE="))
    assert re.fullmatch(r"ARG BASE_IMAGE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base)
    assert found["uv"][0] == "FROM ${BASE_IMAGE} AS uv"
    assert found["builder"][0] == "FROM uv AS builder"
    assert found["operator-builder"][0] == "FROM uv AS operator-builder"
    assert found["image"][0] == "FROM ${BASE_IMAGE} AS image"
    assert found["runtime"][0] == "FROM image AS runtime"
    assert found["operator"][0] == "FROM image AS operator"
    image = found["image"]
    assert any(i.startswith("RUN groupadd --system --gid 10001") for i in image)
    runtime = found["runtime"]
    assert "USER 10001:10001" in runtime  # numeric: runAsNonRoot can verify it
    assert "WORKDIR /opt/baton/flow" in runtime
    assert not any(i.startswith(("ENTRYPOINT", "CMD")) for i in runtime)
    assert "USER 10001:10001" in found["operator"]
    assert 'ENTRYPOINT ["baton"]' in found["operator"]


def test_dockerfile_installs_the_locked_set_with_build_tools_in_the_builder_only() -> None:
    found = stages((ROOT / "Dockerfile").read_text())
    tools = " ".join(found["uv"])
    assert "COPY pyproject.toml uv.lock README.md ./" in tools
    uv_pin = re.search(r'^version="([\d.]+)"$', (ROOT / "hack" / "uv.sh").read_text(), re.M)
    assert uv_pin and f"ARG UV_VERSION={uv_pin.group(1)}" in tools
    # The runtime's environment: the SDK and CLI, never the operator extra.
    builder = " ".join(found["builder"])
    assert "uv sync --frozen --no-dev --no-install-project" in builder
    assert "uv sync --frozen --no-dev --no-editable" in builder
    assert "--extra" not in builder
    operator_builder = " ".join(found["operator-builder"])
    # The operator image also runs the chart's UI (ui.enabled): both extras.
    extras = "--extra operator --extra ui"
    assert f"uv sync --frozen --no-dev {extras} --no-install-project" in operator_builder
    assert f"uv sync --frozen --no-dev {extras} --no-editable" in operator_builder
    for stage in ("image", "runtime", "operator"):
        body = " ".join(found[stage])
        assert "pip install" not in body and "uv " not in body and "apt-get" not in body, stage
    copies = {
        stage: [i for i in found[stage] if i.startswith("COPY")]
        for stage in ("runtime", "operator")
    }
    assert copies == {
        "runtime": ["COPY --from=builder /opt/baton/venv /opt/baton/venv"],
        "operator": ["COPY --from=operator-builder /opt/baton/venv /opt/baton/venv"],
    }


def test_dockerignore_sends_only_what_the_build_needs() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!uv.lock", "!README.md", "!operator/"} <= set(rules)
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert f"!{source}" in rules, f"{source} is excluded from the build context"


def test_examples_image_is_the_one_the_examples_use() -> None:
    text = (ROOT / "examples" / "flows" / "Dockerfile").read_text()
    version = chart()["appVersion"]
    assert f"ARG RUNTIME_IMAGE=baton-runtime:{version}" in text
    assert "FROM ${RUNTIME_IMAGE}" in text
    copied = re.search(r"^COPY (.+) \./flows/$", text, flags=re.MULTILINE)
    assert copied
    for name in copied.group(1).split():
        assert (ROOT / "examples" / "flows" / name).is_file()
    images = set()
    entrypoints = set()
    for path in (ROOT / "examples").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Flow":
                images.add(doc["spec"]["image"])
                entrypoints.add(doc["spec"]["entrypoint"].split(":")[0])
    assert images == {f"baton-examples:{version}"}
    # Entrypoints are relative to WORKDIR /opt/baton/flow, where ./flows/ lands.
    assert entrypoints <= {f"flows/{n}" for n in copied.group(1).split()}


def test_build_script_names_the_images_the_chart_and_examples_use() -> None:
    script = ROOT / "hack" / "build-images.sh"
    assert script.stat().st_mode & 0o111
    text = script.read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for image in (values["image"]["repository"], "baton-runtime", "baton-examples"):
        assert f'"{image}:${{VERSION}}"' in text
    assert "--target runtime" in text and "--target operator" in text
    assert "docker info" in text.replace('"$DOCKER" info', "docker info")


def test_kind_config() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker"]
