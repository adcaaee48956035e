"""A block's stored form and the three places it is kept (see ``baton._store``).

Stored form: two JSON objects, the block's **non-secret fields** and its **secret
fields** (every ``SecretStr``/``SecretBytes``/``pydantic.Secret`` value, revealed), so
that tools can show the first and never the second. In Kubernetes both are data keys of
one labelled Secret (``naming.secret_name``): ``fields.json`` and ``secrets.json``;
locally one file ``$BATON_HOME/blocks/<slug>/<name>.json`` (mode 0600) holding both;
in a flow pod the same two files, mounted by the operator from the Secret.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton import contract
from baton._store import Cluster, Local, Mounted, StoreError
from baton.blocks import naming

Json = dict[str, Any]
#: Also set in a flow pod: the ``slug/name`` references its Flow and Deployment declare.
DECLARED_ENV = "BATON_BLOCKS"
#: A block's stored JSON may not exceed this (a Secret holds at most 1 MiB).
MAX_STORED_BYTES = 512 * 1024


class BlockNotFound(ValueError):
    """No block of that type and name is saved where this process looks."""


class BlockNotDeclared(LookupError):
    """A flow pod asked for a block its Flow and Deployment do not declare."""


@dataclass
class Stored:
    slug: str
    name: str
    fields: Json
    secrets: Json
    block_class: str = ""
    uid: str = ""
    extra: Json = field(default_factory=dict)


def _not_found(slug: str, name: str, where: str) -> BlockNotFound:
    # Prefect's wording, so code matching on it keeps working.
    return BlockNotFound(
        f"Unable to find block document named {name} for block type {slug} ({where})"
    )


def _encoded(stored: Stored) -> tuple[str, str]:
    fields = json.dumps(stored.fields, separators=(",", ":"), sort_keys=True)
    secrets = json.dumps(stored.secrets, separators=(",", ":"), sort_keys=True)
    if len(fields) + len(secrets) > MAX_STORED_BYTES:
        raise ValueError(
            f"block {stored.slug}/{stored.name} is {len(fields) + len(secrets)} bytes as "
            f"JSON; at most {MAX_STORED_BYTES} fit in its Secret"
        )
    return fields, secrets


# -- in a flow pod: the mounted files ------------------------------------------------------
def declared() -> list[str]:
    return [r for r in os.environ.get(DECLARED_ENV, "").split(",") if r]


def read_mounted(place: Mounted, slug: str, name: str) -> Stored:
    reference = f"{slug}/{name}"
    directory = place.directory / naming.mount_subpath(slug, name)
    if reference not in declared():
        raise BlockNotDeclared(
            f"block {reference!r} is not declared for this run: a flow pod reads only the "
            f"blocks its Flow or Deployment lists. Add it to spec.blocks of the Flow or "
            f'the Deployment (blocks: ["{reference}"]): `baton deploy --block {reference}` '
            f'or flow.deploy(..., blocks=["{reference}"])'
        )
    try:
        fields = json.loads((directory / naming.FIELDS_KEY).read_text())
        secrets = json.loads((directory / naming.SECRETS_KEY).read_text())
    except FileNotFoundError:
        raise _not_found(
            slug,
            name,
            f"declared, but no Secret {naming.secret_name(slug, name)} exists in "
            "the run's namespace; create it with `baton block create` or .save()",
        ) from None
    return Stored(slug, name, fields, secrets)


# -- a cluster: a labelled Secret ------------------------------------------------------------
def _manifest(stored: Stored) -> Json:
    fields, secrets = _encoded(stored)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": naming.SECRET_TYPE,
        "metadata": {
            "name": naming.secret_name(stored.slug, stored.name),
            "labels": {
                **contract.MANAGED_BY,
                naming.LABEL_TYPE: stored.slug,
                naming.LABEL_NAME: stored.name,
            },
            "annotations": {naming.ANNOTATION_CLASS: stored.block_class},
        },
        "data": {
            naming.FIELDS_KEY: base64.b64encode(fields.encode()).decode(),
            naming.SECRETS_KEY: base64.b64encode(secrets.encode()).decode(),
        },
    }


def _from_secret(secret: Json) -> Stored:
    metadata = secret.get("metadata") or {}
    labels = metadata.get("labels") or {}
    data = secret.get("data") or {}

    def decoded(key: str) -> Json:
        raw = data.get(key)
        value = json.loads(base64.b64decode(raw)) if raw else {}
        return value if isinstance(value, dict) else {}

    return Stored(
        slug=str(labels.get(naming.LABEL_TYPE, "")),
        name=str(labels.get(naming.LABEL_NAME, "")),
        fields=decoded(naming.FIELDS_KEY),
        secrets=decoded(naming.SECRETS_KEY),
        block_class=str((metadata.get("annotations") or {}).get(naming.ANNOTATION_CLASS, "")),
        uid=str(metadata.get("uid", "")),
    )


def read_cluster(place: Cluster, slug: str, name: str) -> Stored:
    from baton._kube.client import SECRETS, NotFound  # noqa: PLC0415

    try:
        secret = place.client.get(SECRETS, naming.secret_name(slug, name), place.namespace)
    except NotFound:
        raise _not_found(slug, name, f"namespace {place.namespace!r}") from None
    return _from_secret(secret)


def write_cluster(place: Cluster, stored: Stored, *, overwrite: bool) -> str:
    from baton._kube.client import SECRETS, AlreadyExists  # noqa: PLC0415

    manifest = _manifest(stored)
    try:
        created = place.client.create(SECRETS, manifest, place.namespace)
    except AlreadyExists:
        if not overwrite:
            raise _in_use() from None
        created = place.client.patch(
            SECRETS,
            manifest["metadata"]["name"],
            place.namespace,
            {k: manifest[k] for k in ("metadata", "data")},
        )
    return str(created.get("metadata", {}).get("uid", ""))


def list_cluster(place: Cluster, slug: str | None = None) -> list[Stored]:
    from baton._kube.client import SECRETS  # noqa: PLC0415

    selector = f"{naming.LABEL_TYPE}={slug}" if slug else naming.LABEL_TYPE
    found = place.client.list(SECRETS, place.namespace, label_selector=selector)
    return sorted((_from_secret(s) for s in found), key=lambda s: (s.slug, s.name))


def delete_cluster(place: Cluster, slug: str, name: str) -> None:
    from baton._kube.client import SECRETS, NotFound  # noqa: PLC0415

    try:
        place.client.delete(SECRETS, naming.secret_name(slug, name), place.namespace)
    except NotFound:
        raise _not_found(slug, name, f"namespace {place.namespace!r}") from None


# -- no cluster: files under $BATON_HOME ---------------------------------------------------------
def _local_path(place: Local, slug: str, name: str) -> Path:
    return place.home / "blocks" / naming.check_name(slug) / f"{naming.check_name(name)}.json"


def read_local(place: Local, slug: str, name: str) -> Stored:
    path = _local_path(place, slug, name)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise _not_found(slug, name, f"local store {place.home}") from None
    return Stored(
        slug,
        name,
        document.get("fields") or {},
        document.get("secrets") or {},
        block_class=str(document.get("class", "")),
        uid=str(document.get("id", "")),
    )


def write_local(place: Local, stored: Stored, *, overwrite: bool) -> str:
    path = _local_path(place, stored.slug, stored.name)
    fields, secrets = _encoded(stored)
    if path.exists() and not overwrite:
        raise _in_use()
    uid = str(uuid.uuid4())
    if path.exists():
        uid = str(json.loads(path.read_text()).get("id") or uid)
    for directory in (place.home, place.home / "blocks", path.parent):
        directory.mkdir(exist_ok=True, mode=0o700)
    document = (
        f'{{"id":{json.dumps(uid)},"class":{json.dumps(stored.block_class)},'
        f'"fields":{fields},"secrets":{secrets}}}'
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".block-")
    with os.fdopen(handle, "w") as out:  # mkstemp's file is 0600: never readable by others
        out.write(document)
    os.replace(temporary, path)
    return uid


def list_local(place: Local, slug: str | None = None) -> list[Stored]:
    root = place.home / "blocks"
    pattern = f"{slug}/*.json" if slug else "*/*.json"
    return [read_local(place, p.parent.name, p.stem) for p in sorted(root.glob(pattern))]


def delete_local(place: Local, slug: str, name: str) -> None:
    try:
        _local_path(place, slug, name).unlink()
    except FileNotFoundError:
        raise _not_found(slug, name, f"local store {place.home}") from None


def _in_use() -> ValueError:
    return ValueError(
        "You are attempting to save values with a name that is already in use for this "
        "block type. If you would like to overwrite the values that are saved, then save "
        "with `overwrite=True`."
    )


# -- dispatch --------------------------------------------------------------------------------
def read(place: Mounted | Cluster | Local, slug: str, name: str) -> Stored:
    if isinstance(place, Mounted):
        return read_mounted(place, slug, name)
    if isinstance(place, Cluster):
        return read_cluster(place, slug, name)
    return read_local(place, slug, name)


def write(place: Mounted | Cluster | Local, stored: Stored, *, overwrite: bool) -> str:
    if isinstance(place, Mounted):
        raise StoreError(
            "a flow pod cannot save blocks (its identity may not write Secrets): save them "
            "with `baton block create` or Block.save() outside the pod"
        )
    if isinstance(place, Cluster):
        return write_cluster(place, stored, overwrite=overwrite)
    return write_local(place, stored, overwrite=overwrite)


def listed(place: Cluster | Local, slug: str | None = None) -> list[Stored]:
    return list_cluster(place, slug) if isinstance(place, Cluster) else list_local(place, slug)


def delete(place: Mounted | Cluster | Local, slug: str, name: str) -> None:
    if isinstance(place, Mounted):
        raise StoreError("a flow pod cannot delete blocks")
    if isinstance(place, Cluster):
        delete_cluster(place, slug, name)
    else:
        delete_local(place, slug, name)
