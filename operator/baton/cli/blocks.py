"""``baton block ls|create|inspect|delete|type``: blocks from the command line.

The cluster of ``--kubeconfig``/``--context``/``-n`` (or the local store when no cluster
is configured, as ``Block.load`` does). Secret fields are never printed: ``inspect``
shows their names with a mask, ``ls`` shows names only.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from baton import _store
from baton.blocks import _storage, naming
from baton.blocks.core import Block, registered_types
from baton.cli.common import CliError, parse_value

MASK = "********"


def _place(args: argparse.Namespace) -> _store.Cluster | _store.Local:
    return _store.cluster_or_local(
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        namespace=getattr(args, "namespace", None),
    )


def _where(place: _store.Cluster | _store.Local) -> str:
    if isinstance(place, _store.Cluster):
        return f'namespace "{place.namespace}"'
    return f"local store {place.home}"


def _import(modules: list[str] | None) -> None:
    import baton.blocks.system  # noqa: F401, PLC0415 - registers Secret, String, JSON

    for module in modules or []:
        importlib.import_module(module)


def _reference(text: str) -> tuple[str, str]:
    try:
        return naming.parse_reference(text)
    except naming.BlockNameError as error:
        raise CliError(str(error)) from None


def ls_command(args: argparse.Namespace) -> int:
    place = _place(args)
    blocks = _storage.listed(place, args.type)
    if not blocks:
        print(f"no blocks in {_where(place)}")
        return 0
    width = max(len(b.slug) for b in blocks)
    print(f"{'TYPE':<{width}}  NAME")
    for block in blocks:
        print(f"{block.slug:<{width}}  {block.name}")
    return 0


def _masked(secrets: object) -> object:
    if isinstance(secrets, dict):
        return {key: _masked(value) for key, value in secrets.items()}
    return MASK


def inspect_command(args: argparse.Namespace) -> int:
    slug, name = _reference(args.reference)
    place = _place(args)
    try:
        stored = _storage.read(place, slug, name)
    except _storage.BlockNotFound as error:
        raise CliError(str(error)) from None
    shown = {
        "type": slug,
        "name": name,
        "class": stored.block_class,
        "where": _where(place),
        "fields": stored.fields,
        "secretFields": _masked(stored.secrets),
    }
    print(json.dumps(shown, indent=2, sort_keys=False))
    return 0


def create_command(args: argparse.Namespace) -> int:
    slug, name = _reference(args.reference)
    _import(args.imports)
    try:
        block_class = Block.get_block_class_from_key(slug)
    except KeyError as error:
        raise CliError(str(error.args[0])) from None
    values: dict[str, object] = {}
    for item in args.field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--field {item!r} must look like name=value")
        values[key] = parse_value(value)
    for item in args.field_file or []:
        key, sep, path = item.partition("=")
        if not sep or not key:
            raise CliError(f"--field-file {item!r} must look like name=path")
        values[key] = Path(path).read_text().rstrip("\n")
    try:
        block = block_class.model_validate(values)
    except ValueError as error:
        raise CliError(f"{slug}: {error}") from None
    place = _place(args)
    try:
        block.save_at(place, name, overwrite=args.overwrite)
    except ValueError as error:
        raise CliError(str(error)) from None
    print(f"block {slug}/{name} saved in {_where(place)}")
    return 0


def delete_command(args: argparse.Namespace) -> int:
    slug, name = _reference(args.reference)
    place = _place(args)
    try:
        _storage.delete(place, slug, name)
    except _storage.BlockNotFound as error:
        raise CliError(str(error)) from None
    print(f"block {slug}/{name} deleted from {_where(place)}")
    return 0


def types_command(args: argparse.Namespace) -> int:
    _import(args.imports)
    for slug, block_class in registered_types().items():
        print(f"{slug}  {block_class.__module__}:{block_class.__qualname__}")
    return 0
