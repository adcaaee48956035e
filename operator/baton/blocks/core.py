"""``Block``: typed, named configuration with secret fields, as in Prefect 3.

A block is a pydantic model whose ``SecretStr``/``SecretBytes``/``pydantic.Secret``
fields are secret: ``.save(name)`` stores the non-secret fields and the secret ones
apart (``_storage``), ``.load(name)`` reads them back from wherever this process keeps
blocks (``baton._store``: the pod's mounted files, the cluster, or ``$BATON_HOME``).

Every subclass is registered under its type slug (``get_block_type_slug()``: the
``_block_type_slug`` class variable, else the slugified class name), so
``Block.load("snowflakeconnector/prod")`` finds the class once its module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, PrivateAttr, SecretBytes, SecretStr
from pydantic import Secret as PydanticSecret
from pydantic_core import to_jsonable_python

from baton import _store
from baton.blocks import _storage, naming

Json = dict[str, Any]
Place = _store.Mounted | _store.Cluster | _store.Local
_SECRET_TYPES = (SecretStr, SecretBytes, PydanticSecret)

_REGISTRY: dict[str, type[Block]] = {}


class UnknownBlockType(KeyError):
    """No imported Block class has this type slug."""


class SecretInContainerError(TypeError):
    """A secret value inside a list or dict: it would be stored masked, so it is refused."""


def _reveal(value: SecretStr | SecretBytes | PydanticSecret[Any]) -> Any:
    revealed = value.get_secret_value()
    if isinstance(revealed, bytes):
        return revealed.decode()
    return to_jsonable_python(revealed)


def _public(value: Any, path: str) -> Any:
    """``value`` as JSON, refusing secrets that only a masked form would represent."""
    if isinstance(value, _SECRET_TYPES):
        raise SecretInContainerError(
            f"{path} holds a secret inside a list or dict; secret fields must be fields "
            "of the block or of a nested model"
        )
    if isinstance(value, BaseModel):
        return _public(dict(value), path)
    if isinstance(value, Mapping):
        return {str(k): _public(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_public(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return to_jsonable_python(value)


def split_fields(model: BaseModel, prefix: str = "") -> tuple[Json, Json]:
    """The model's non-secret fields and its secret ones (revealed), as two JSON trees."""
    public: Json = {}
    secret: Json = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, _SECRET_TYPES):
            secret[name] = _reveal(value)
        elif isinstance(value, BaseModel):
            public[name], nested = split_fields(value, f"{path}.")
            if nested:
                secret[name] = nested
        else:
            public[name] = _public(value, path)
    return public, secret


def join_fields(public: Json, secret: Json) -> Json:
    """The inverse of ``split_fields``: secret values laid back into the public tree."""
    merged = dict(public)
    for key, value in secret.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = join_fields(merged[key], value)
        else:
            merged[key] = value
    return merged


class Block(BaseModel):
    """A saved, named piece of configuration; subclass it with typed fields.

    ```python
    class WarehouseConnector(Block):
        account: str
        user: str
        password: SecretStr

    WarehouseConnector(account="acme", user="etl", password="s3cr3t").save("prod")
    WarehouseConnector.load("prod").password.get_secret_value()
    ```
    """

    _block_type_name: ClassVar[str | None] = None
    _block_type_slug: ClassVar[str | None] = None
    _description: ClassVar[str | None] = None
    _block_document_name: str | None = PrivateAttr(None)
    _block_document_id: UUID | None = PrivateAttr(None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_generic_metadata__.get("origin") is None:  # not Secret[str]
            _REGISTRY[cls.get_block_type_slug()] = cls

    @classmethod
    def get_block_type_name(cls) -> str:
        return cls._block_type_name or cls.__name__

    @classmethod
    def get_block_type_slug(cls) -> str:
        return naming.slugify(cls._block_type_slug or cls.get_block_type_name())

    @classmethod
    def get_block_class_from_key(cls, key: str) -> type[Block]:
        """The registered class whose type slug is ``key``."""
        try:
            return _REGISTRY[key]
        except KeyError:
            raise UnknownBlockType(
                f"no block type {key!r} is registered: import the module that defines its "
                f"Block class first (registered: {', '.join(sorted(_REGISTRY)) or 'none'})"
            ) from None

    @classmethod
    def _class_path(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"

    def save(self, name: str | None = None, overwrite: bool = False) -> UUID:
        """Store this block as ``<type slug>/<name>``; return its id.

        Raises:
            ValueError: A block of this type and name exists and ``overwrite`` is false
                (Prefect's message), or ``name`` is not a valid block name.
        """
        with _store.blocks_place() as place:
            return self.save_at(place, name, overwrite)

    def save_at(self, place: Place, name: str | None = None, overwrite: bool = False) -> UUID:
        """``save`` into an explicit place (the CLI's ``--kubeconfig``/``-n``)."""
        name = name or self._block_document_name
        if not name:
            raise ValueError("No name provided, either as an argument or on the block.")
        naming.check_name(name)
        fields, secrets = split_fields(self)
        stored = _storage.Stored(
            self.get_block_type_slug(), name, fields, secrets, block_class=self._class_path()
        )
        uid = _storage.write(place, stored, overwrite=overwrite)
        self._block_document_name = name
        self._block_document_id = UUID(uid) if uid else None
        return self._block_document_id or UUID(int=0)

    @classmethod
    def _locate(cls, name: str) -> tuple[type[Block], str, str]:
        if cls is Block:
            slug, block_name = naming.parse_reference(name)
            return cls.get_block_class_from_key(slug), slug, block_name
        return cls, cls.get_block_type_slug(), naming.check_name(name)

    @classmethod
    def load(cls, name: str, validate: bool = True) -> Self:
        """The saved block ``name`` (``"<type slug>/<name>"`` when called on ``Block``).

        Raises:
            ValueError: No such block is saved (Prefect's "Unable to find block
                document named ..." message).
            LookupError: In a flow pod, the block is not declared in the Flow's or
                Deployment's ``spec.blocks`` (the message says how to declare it).
        """
        with _store.blocks_place() as place:
            return cls.load_from(place, name, validate)

    @classmethod
    def load_from(cls, place: Place, name: str, validate: bool = True) -> Self:
        """``load`` from an explicit place."""
        block_class, slug, block_name = cls._locate(name)
        stored = _storage.read(place, slug, block_name)
        data = join_fields(stored.fields, stored.secrets)
        block = (
            block_class.model_validate(data) if validate else block_class.model_construct(**data)
        )
        block._block_document_name = block_name
        block._block_document_id = UUID(stored.uid) if _is_uuid(stored.uid) else None
        return block  # type: ignore[return-value]  # Block.load returns the registered class

    @classmethod
    def delete(cls, name: str) -> None:
        """Remove the saved block ``name``."""
        _, slug, block_name = cls._locate(name)
        with _store.blocks_place() as place:
            _storage.delete(place, slug, block_name)


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def registered_types() -> dict[str, type[Block]]:
    """Every imported block type by slug (``baton block type ls``)."""
    return dict(sorted(_REGISTRY.items()))


__all__ = [
    "Block",
    "SecretInContainerError",
    "UnknownBlockType",
    "join_fields",
    "registered_types",
    "split_fields",
]
