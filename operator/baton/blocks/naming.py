"""How a block is named and where it lives — one home for the SDK, the CLI and the operator.

A block is referenced as ``<type-slug>/<name>`` (Prefect's ``Block.load("secret/db")``
spelling). Both parts are DNS labels (lowercase letters, digits and dashes, at most 63,
no leading or trailing dash), so the Kubernetes Secret that holds it can be named
``baton-block.<slug>.<name>`` without ambiguity (neither part may contain a dot) and the
parts fit in label values. Pure: no pydantic, no Kubernetes client.
"""

from __future__ import annotations

import re

from baton import contract

LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
NAME_PATTERN = f"^{LABEL}$"
#: ``spec.blocks`` entries on Flows and Deployments.
REFERENCE_PATTERN = f"^{LABEL}/{LABEL}$"
SECRET_PREFIX = "baton-block."
#: The Kubernetes Secret's type: marks the Secret as a block for kubectl readers.
SECRET_TYPE = contract.SECRET_TYPE_BLOCK
LABEL_TYPE = contract.LABEL_BLOCK_TYPE
LABEL_NAME = contract.LABEL_BLOCK_NAME
ANNOTATION_CLASS = contract.ANNOTATION_BLOCK_CLASS
#: The Secret's data keys: the non-secret fields and the secret ones, each a JSON object.
FIELDS_KEY = "fields.json"
SECRETS_KEY = "secrets.json"
#: Where the operator mounts a run's declared blocks (BATON_BLOCKS_DIR in the pod).
MOUNT_PATH = "/var/run/baton/blocks"


class BlockNameError(ValueError):
    """A block type slug, block name or ``slug/name`` reference is malformed."""


def check_name(value: str, what: str = "block name") -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise BlockNameError(
            f"{what} {value!r} must be 1-63 lowercase letters, numbers and dashes, "
            "starting and ending with a letter or number"
        )
    return value


def slugify(text: str) -> str:
    """A class name as a block type slug, as Prefect does (``SnowflakeConnector`` ->
    ``snowflakeconnector``, ``My Block`` -> ``my-block``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_reference(reference: str) -> tuple[str, str]:
    """``"secret/db"`` -> ``("secret", "db")``."""
    slug, sep, name = reference.partition("/")
    if not sep:
        raise BlockNameError(f"block reference {reference!r} must be '<type-slug>/<name>'")
    return check_name(slug, "block type slug"), check_name(name)


def secret_name(slug: str, name: str) -> str:
    """The Kubernetes Secret holding block ``slug/name``."""
    return f"{SECRET_PREFIX}{check_name(slug, 'block type slug')}.{check_name(name)}"


def mount_subpath(slug: str, name: str) -> str:
    """The block's directory under ``MOUNT_PATH`` in a pod."""
    return f"{slug}/{name}"


__all__ = [
    "ANNOTATION_CLASS",
    "FIELDS_KEY",
    "LABEL_NAME",
    "LABEL_TYPE",
    "MOUNT_PATH",
    "NAME_PATTERN",
    "REFERENCE_PATTERN",
    "SECRETS_KEY",
    "SECRET_PREFIX",
    "SECRET_TYPE",
    "BlockNameError",
    "check_name",
    "mount_subpath",
    "parse_reference",
    "secret_name",
    "slugify",
]
