"""Block models: the secret/non-secret split, the type registry, the local store, and a
flow pod's mounted blocks (the files the operator's projected volume holds)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from baton.blocks import Block, UnknownBlockType, _storage, naming
from baton.blocks.core import SecretInContainerError, join_fields, split_fields
from baton.blocks.system import JSON, Secret, String

pytestmark = pytest.mark.unit


class Auth(BaseModel):
    user: str
    token: SecretStr


class AcmeWarehouse(Block):
    account: str
    port: int = 443
    password: SecretStr
    auth: Auth


def connector() -> AcmeWarehouse:
    return AcmeWarehouse(
        account="acme", password="pw-123", auth=Auth(user="etl", token=SecretStr("tok-456"))
    )


def fields_of(block: Block) -> tuple[object, object]:
    return split_fields(block)


@pytest.fixture(autouse=True)
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BATON_STORE", "local")
    monkeypatch.setenv("BATON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BATON_BLOCKS_DIR", raising=False)
    return tmp_path / "home"


def test_split_keeps_every_secret_out_of_the_public_fields() -> None:
    public, secret = split_fields(connector())
    assert public == {"account": "acme", "port": 443, "auth": {"user": "etl"}}
    assert secret == {"password": "pw-123", "auth": {"token": "tok-456"}}
    assert "pw-123" not in json.dumps(public) and "tok-456" not in json.dumps(public)
    assert AcmeWarehouse.model_validate(join_fields(public, secret)) == connector()


def test_a_secret_inside_a_list_is_refused_rather_than_stored_masked() -> None:
    class Many(Block):
        keys: list[SecretStr]

    with pytest.raises(SecretInContainerError, match="keys"):
        split_fields(Many(keys=[SecretStr("a")]))


def test_types_are_registered_by_slug() -> None:
    assert AcmeWarehouse.get_block_type_slug() == "acmewarehouse"
    assert Secret.get_block_type_slug() == "secret"
    assert Block.get_block_class_from_key("acmewarehouse") is AcmeWarehouse

    class Named(Block):
        _block_type_slug = "my-named"
        value: str

    assert Block.get_block_class_from_key("my-named") is Named
    with pytest.raises(UnknownBlockType, match="import the module"):
        Block.get_block_class_from_key("nope")


def test_save_load_and_overwrite_in_the_local_store(local_store: Path) -> None:
    uid = connector().save("prod")
    loaded = AcmeWarehouse.load("prod")
    assert fields_of(loaded) == fields_of(connector())
    assert loaded._block_document_name == "prod"
    assert loaded.password.get_secret_value() == "pw-123"
    assert fields_of(Block.load("acmewarehouse/prod")) == fields_of(connector())
    with pytest.raises(ValueError, match="overwrite=True"):
        connector().save("prod")
    changed = connector().model_copy(update={"account": "other"})
    assert changed.save("prod", overwrite=True) == uid
    assert AcmeWarehouse.load("prod").account == "other"
    path = local_store / "blocks" / "acmewarehouse" / "prod.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="Unable to find block document named missing"):
        AcmeWarehouse.load("missing")
    AcmeWarehouse.delete("prod")
    with pytest.raises(ValueError, match="Unable to find"):
        AcmeWarehouse.load("prod")


def test_system_blocks_round_trip() -> None:
    Secret(value="sk-1").save("api-key")
    Secret(value={"user": "u", "password": "p"}).save("login")
    String(value="hello").save("greeting")
    JSON(value={"a": [1, 2]}).save("config")
    assert Secret.load("api-key").get() == "sk-1"
    assert Secret.load("login").get() == {"user": "u", "password": "p"}
    assert "sk-1" not in repr(Secret.load("api-key"))
    assert String.load("greeting").value == "hello"
    assert JSON.load("config").value == {"a": [1, 2]}


def test_block_names_are_dns_labels() -> None:
    with pytest.raises(ValueError, match="lowercase letters"):
        Secret(value="x").save("Not_Valid")
    assert naming.secret_name("secret", "db") == "baton-block.secret.db"
    with pytest.raises(naming.BlockNameError):
        naming.parse_reference("secret")


def write_mount(root: Path, slug: str, name: str, block: Block) -> None:
    public, secret = split_fields(block)
    directory = root / naming.mount_subpath(slug, name)
    directory.mkdir(parents=True)
    (directory / naming.FIELDS_KEY).write_text(json.dumps(public))
    (directory / naming.SECRETS_KEY).write_text(json.dumps(secret))


def test_in_a_pod_only_declared_mounted_blocks_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mount = tmp_path / "mount"
    write_mount(mount, "acmewarehouse", "prod", connector())
    write_mount(mount, "secret", "other", Secret(value="x"))  # mounted, not declared
    monkeypatch.setenv("BATON_BLOCKS_DIR", str(mount))
    monkeypatch.setenv(_storage.DECLARED_ENV, "acmewarehouse/prod,secret/never-saved")
    assert fields_of(AcmeWarehouse.load("prod")) == fields_of(connector())
    with pytest.raises(_storage.BlockNotDeclared, match=r'blocks: \["secret/other"\]'):
        Secret.load("other")
    with pytest.raises(
        ValueError, match=r"declared, but no Secret baton-block\.secret\.never-saved"
    ):
        Secret.load("never-saved")
    with pytest.raises(RuntimeError, match="cannot save blocks"):
        Secret(value="y").save("new")
