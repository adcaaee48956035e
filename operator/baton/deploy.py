"""From a flow object to Baton resources: ``Flow.deploy``, ``Flow.serve`` and ``baton deploy``.

``build_manifests`` is pure: it turns a ``@flow`` and the deployment options into the
Flow, Deployment and (when asked) WorkPool manifests, validating everything a user can get
wrong — schedules with the scheduler's own validator, names and entrypoints with the
resource models, parameters against the flow's JSON Schema — before anything is written.
``apply`` writes them with server-side apply (field manager ``baton-cli``), so deploying
again updates exactly the fields the CLI owns and nothing another tool set. ``serve`` is
``deploy`` to a per-deployment process pool plus a worker in the calling process.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic

from baton._kube.client import DEPLOYMENTS, FLOWS, WORKPOOLS, Kind, KubeClient, NotFound
from baton.parameters import parameter_schema
from baton.resources import API_VERSION, DeploymentSpec, FlowSpec, WorkPoolSpec
from baton.schedules import validate_schedule
from baton.schema_validation import check_parameter_schema, parameter_problems

Json = dict[str, Any]

FIELD_MANAGER = "baton-cli"
logger = logging.getLogger("baton.deploy")
#: Flow.spec.image for flows that only run in process pools (which ignore the image).
PROCESS_IMAGE = "local"
SERVE_POOL_SUFFIX = "-serve"
_KINDS: dict[str, Kind] = {"Flow": FLOWS, "Deployment": DEPLOYMENTS, "WorkPool": WORKPOOLS}
_APPLY_ORDER = {"WorkPool": 0, "Flow": 1, "Deployment": 2}


class DeployError(ValueError):
    """The deployment cannot be built or written; the message is shown to the user as is."""


def resource_name(text: str) -> str:
    """``text`` as a Kubernetes object name: ``My_ETL flow`` becomes ``my-etl-flow``."""
    name = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")
    if not name:
        raise DeployError(f"{text!r} does not make a valid resource name")
    return name[:253]


def entrypoint_of(flow_obj: Any, base: Path | None = None) -> str:
    """``path/to/file.py:attribute`` of a flow defined in a file under ``base`` (the cwd)."""
    fn = getattr(flow_obj, "fn", flow_obj)
    source = inspect.getsourcefile(fn)
    if source is None:
        raise DeployError(f"cannot find the source file of flow {flow_obj!r}")
    base = (base or Path.cwd()).resolve()
    try:
        relative = Path(source).resolve().relative_to(base)
    except ValueError:
        raise DeployError(
            f"the flow's file {source} is not under the working directory {base}: run from a "
            "directory that contains it (workers resolve entrypoints relative to their work dir)"
        ) from None
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    attribute = next(
        (k for k, v in vars(module).items() if v is flow_obj and not k.startswith("_")),
        getattr(fn, "__name__", ""),
    )
    return f"{relative.as_posix()}:{attribute}"


def _invalid(what: str, error: pydantic.ValidationError) -> DeployError:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return DeployError(f"invalid {what}: {where}: {first['msg']}")


def _schedule(
    cron: str | None,
    interval: float | str | timedelta | None,
    rrule: str | None,
    timezone: str | None,
) -> list[Json]:
    if cron is None and interval is None and rrule is None:
        if timezone is not None:
            raise DeployError("--timezone needs a schedule (cron, interval or rrule)")
        return []
    validate_schedule(cron=cron, interval=interval, rrule=rrule, timezone=timezone)
    schedule: Json = {}
    if cron is not None:
        schedule["cron"] = cron
    elif rrule is not None:
        schedule["rrule"] = rrule
    else:
        if isinstance(interval, timedelta):
            interval = int(interval.total_seconds())
        elif isinstance(interval, float) or (isinstance(interval, str) and interval.isdigit()):
            interval = int(interval)
        schedule["interval"] = interval
    if timezone is not None:
        schedule["timezone"] = timezone
    return [schedule]


def _check_parameters(schema: Json, parameters: Mapping[str, Any]) -> None:
    # The operator's own checks, so a manifest that passes here passes there.
    problem = check_parameter_schema(schema) or parameter_problems(schema, parameters, limit=3)
    if problem:
        raise DeployError(problem)


def _manifest(kind: str, name: str, namespace: str | None, spec: Json) -> Json:
    metadata: Json = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def build_manifests(
    flow_obj: Any,
    *,
    name: str,
    entrypoint: str,
    image: str | None = None,
    pool: str = "default",
    pool_type: str | None = None,
    cron: str | None = None,
    interval: float | str | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    description: str | None = None,
    source: Json | None = None,
    blocks: Sequence[str] | None = None,
) -> list[Json]:
    """The Flow, Deployment and — when ``pool_type`` is given — WorkPool for ``flow_obj``.

    Raises:
        DeployError: an invalid name, entrypoint, image or parameters.
        ScheduleError: an invalid schedule (the scheduler's own message).
    """
    schedules = _schedule(cron, interval, rrule, timezone)
    if image is None:
        if pool_type != "process":
            raise DeployError(
                "an image is required unless the work pool is a process pool "
                "(pass --image, or --pool-type process)"
            )
        image = PROCESS_IMAGE
    fn = getattr(flow_obj, "fn", flow_obj)
    schema = parameter_schema(fn)
    params = dict(parameters or {})
    _check_parameters(schema, params)
    flow_name = resource_name(str(getattr(flow_obj, "name", None) or fn.__name__))
    about = description or getattr(flow_obj, "description", None)
    flow_spec: Json = {"image": image, "entrypoint": entrypoint, "parameterSchema": schema}
    if about:
        flow_spec["description"] = str(about)[:4096]
    source = source or getattr(flow_obj, "_baton_source", None)  # Flow.from_source
    if source:
        flow_spec["source"] = source
    if blocks:
        flow_spec["blocks"] = sorted(set(blocks))
    deployment_spec: Json = {
        "flowRef": {"name": flow_name},
        "workPoolRef": {"name": pool},
        "parameters": params,
        "schedules": schedules,
    }
    try:
        FlowSpec.model_validate(flow_spec)
    except pydantic.ValidationError as error:
        raise _invalid("flow", error) from None
    try:
        DeploymentSpec.model_validate(deployment_spec)
    except pydantic.ValidationError as error:
        raise _invalid("deployment", error) from None
    for what, value in (("deployment name", name), ("work pool name", pool)):
        if resource_name(value) != value:
            raise DeployError(
                f"invalid {what} {value!r}: use lowercase letters, digits, '-' and '.' "
                f"(e.g. {resource_name(value)!r})"
            )
    manifests = []
    if pool_type is not None:
        try:
            WorkPoolSpec.model_validate({"type": pool_type})
        except pydantic.ValidationError as error:
            raise _invalid("work pool", error) from None
        manifests.append(_manifest("WorkPool", pool, namespace, {"type": pool_type}))
    manifests.append(_manifest("Flow", flow_name, namespace, flow_spec))
    manifests.append(_manifest("Deployment", name, namespace, deployment_spec))
    return manifests


def to_yaml(manifests: Sequence[Json]) -> str:
    """A multi-document YAML stream, as ``kubectl apply -f`` reads it."""
    import yaml  # noqa: PLC0415

    return str(yaml.safe_dump_all(list(manifests), sort_keys=False))


def apply(
    manifests: Sequence[Json], client: KubeClient, *, namespace: str | None = None
) -> list[Json]:
    """Create or update each manifest by server-side apply; the objects as stored."""
    applied = []
    for manifest in sorted(manifests, key=lambda m: _APPLY_ORDER.get(m["kind"], 9)):
        kind = _KINDS[manifest["kind"]]
        target = manifest["metadata"].get("namespace") or namespace or client.namespace
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": target}}
        applied.append(
            client.request(
                "PATCH",
                kind.path(target, manifest["metadata"]["name"]),
                body=body,
                params={"fieldManager": FIELD_MANAGER, "force": "true"},
                content_type="application/apply-patch+yaml",
            )
        )
    return applied


def _client(kubeconfig: str | None, context: str | None) -> KubeClient:
    from baton._kube.config import load  # noqa: PLC0415

    return KubeClient(load(kubeconfig, context))


def _while_loading(call: str, name: str) -> bool:
    """True (and a debug line) when called from a module that ``load_flow`` is importing.

    Prefect's tutorials end with ``my_flow.serve(...)`` at module level, unguarded; every
    run imports that module again, and serving there would block the run forever.
    """
    from baton.cli.loading import loading_entrypoint  # noqa: PLC0415

    entrypoint = loading_entrypoint()
    if entrypoint is None:
        return False
    logger.debug("%s(%r) skipped: called while loading entrypoint %s", call, name, entrypoint)
    return True


def deploy(
    flow_obj: Any,
    name: str,
    *,
    work_pool_name: str = "default",
    work_pool_type: str | None = None,
    image: str | None = None,
    cron: str | None = None,
    interval: float | str | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    entrypoint: str | None = None,
    description: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    blocks: Sequence[str] | None = None,
) -> str:
    """Write the Flow and Deployment (``Flow.deploy``); the Deployment's name.

    A no-op while the flow's own file is being loaded to run it (``_while_loading``).
    """
    if _while_loading("deploy", name):
        return name
    manifests = build_manifests(
        flow_obj,
        name=name,
        entrypoint=entrypoint
        or getattr(flow_obj, "_baton_entrypoint", None)
        or entrypoint_of(flow_obj),
        image=image,
        pool=work_pool_name,
        pool_type=work_pool_type,
        cron=cron,
        interval=interval,
        rrule=rrule,
        timezone=timezone,
        parameters=parameters,
        namespace=namespace,
        description=description,
        blocks=blocks,
    )
    with _client(kubeconfig, context) as client:
        apply(manifests, client, namespace=namespace)
    return name


def serve(
    flow_obj: Any,
    name: str | None = None,
    *,
    cron: str | None = None,
    interval: float | str | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    pool: str | None = None,
    namespace: str | None = None,
    limit: int | None = None,
    description: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    heartbeat_seconds: float = 10.0,
) -> None:
    """Deploy ``flow_obj`` to a process pool and run a worker for it until interrupted.

    A no-op while the flow's own file is being loaded to run it (``_while_loading``).
    """
    if _while_loading("serve", name or str(getattr(flow_obj, "name", "flow"))):
        return
    from baton._kube.config import load  # noqa: PLC0415
    from baton.worker import Worker, WorkerOptions  # noqa: PLC0415

    deployment = resource_name(name or str(getattr(flow_obj, "name", "flow")))
    pool_name = pool or f"{deployment}{SERVE_POOL_SUFFIX}"
    work_dir = Path.cwd()
    manifests = build_manifests(
        flow_obj,
        name=deployment,
        entrypoint=entrypoint_of(flow_obj, work_dir),
        pool=pool_name,
        pool_type="process",
        cron=cron,
        interval=interval,
        rrule=rrule,
        timezone=timezone,
        parameters=parameters,
        namespace=namespace,
        description=description,
    )
    credentials = load(kubeconfig, context)
    target = namespace or credentials.namespace
    with KubeClient(credentials) as client:
        try:
            existing = client.get(WORKPOOLS, pool_name, target)
        except NotFound:
            existing = None
        if existing is not None:
            kind = (existing.get("spec") or {}).get("type", "kubernetes")
            if kind != "process":
                raise DeployError(
                    f'work pool "{pool_name}" has type {kind}; serve needs a process pool'
                )
            manifests = [m for m in manifests if m["kind"] != "WorkPool"]  # leave it as it is
        apply(manifests, client, namespace=target)
    print(  # noqa: T201 - serve's console output is its interface, as in Prefect
        f"Your flow {getattr(flow_obj, 'name', deployment)!r} is being served as deployment "
        f'"{deployment}" (namespace "{target}", work pool "{pool_name}").\n'
        f"To trigger a run:  baton run {deployment} -n {target}\n"
        "Stop serving with Ctrl-C.",
        flush=True,
    )
    options = WorkerOptions(
        pool=pool_name,
        namespace=target,
        limit=limit,
        work_dir=work_dir,
        heartbeat_seconds=heartbeat_seconds,
        kubeconfig=kubeconfig,
        context=context,
    )
    Worker(options, credentials).run()


def schedule_entry(
    cron: str | None = None,
    interval: float | str | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
) -> Json:
    """One validated ``Deployment.spec.schedules[]`` entry (``baton deployment schedule``)."""
    entries = _schedule(cron, interval, rrule, timezone)
    if not entries:
        raise DeployError("a schedule needs one of --cron, --interval or --rrule")
    return entries[0]
