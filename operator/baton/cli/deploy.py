"""``baton deploy path.py:func --name N ...``: a flow's Flow + Deployment (+ WorkPool).

Applied with server-side apply, or — with ``--dry-run`` — printed as YAML to commit to
git for Argo CD or ``kubectl apply`` (the GitOps path). Everything is validated before
anything is written (``baton.deploy.build_manifests``).
"""

from __future__ import annotations

import argparse
import json
import sys

from baton.cli.common import CliError, connect, parse_params


def _image_for(args: argparse.Namespace) -> str | None:
    """``--image``, or the placeholder when the target pool already is a process pool."""
    if args.image or args.pool_type or args.dry_run:
        return str(args.image) if args.image else None
    from baton._kube.client import WORKPOOLS, NotFound  # noqa: PLC0415
    from baton.deploy import PROCESS_IMAGE  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        try:
            pool = conn.client.get(WORKPOOLS, args.pool, conn.namespace)
        except NotFound:
            return None
    return PROCESS_IMAGE if (pool.get("spec") or {}).get("type") == "process" else None


def _git_source(args: argparse.Namespace) -> dict[str, object] | None:
    """``spec.source`` from ``--git-url`` and friends (the entrypoint is relative to the
    checkout, as it is to the current directory when deploying from a clone)."""
    from baton.git_source import GitRepository  # noqa: PLC0415

    if not args.git_url:
        if args.git_ref or args.git_commit or args.git_sub_path or args.git_credentials:
            raise CliError("--git-ref/--git-commit/--git-sub-path/--git-credentials need --git-url")
        return None
    return GitRepository(
        url=args.git_url,
        branch=args.git_ref,
        commit_sha=args.git_commit,
        credentials=args.git_credentials,
        sub_path=args.git_sub_path,
    ).source()


def command(args: argparse.Namespace) -> int:
    from baton.cli.loading import load_flow  # noqa: PLC0415
    from baton.deploy import apply, build_manifests, to_yaml  # noqa: PLC0415

    if args.output and not args.dry_run:
        raise CliError("-o/--output is only for --dry-run (printing instead of applying)")
    flow = load_flow(args.entrypoint)
    if not hasattr(flow, "fn"):
        raise CliError(f"{args.entrypoint} is not a @flow")
    manifests = build_manifests(
        flow,
        name=args.name,
        entrypoint=args.entrypoint,
        image=_image_for(args),
        pool=args.pool,
        pool_type=args.pool_type,
        cron=args.cron,
        interval=args.interval,
        rrule=args.rrule,
        timezone=args.timezone,
        parameters=parse_params(args.param),
        namespace=args.namespace,
        description=args.description,
        source=_git_source(args),
        blocks=args.blocks,
    )
    if args.dry_run:
        if args.output == "json":
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}, indent=2))
        else:
            sys.stdout.write(to_yaml(manifests))
        return 0
    conn = connect(args)
    with conn.client:
        applied = apply(manifests, conn.client, namespace=conn.namespace)
    for obj in applied:
        print(f"{obj['kind'].lower()}.baton.dev/{obj['metadata']['name']} applied")
    print(f'deployment "{args.name}" is ready in namespace "{conn.namespace}"')
    return 0
