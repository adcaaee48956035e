"""Variables in the local store: Prefect 3's get/set/unset semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.variables import Variable

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_STORE", "local")
    monkeypatch.setenv("BATON_HOME", str(tmp_path))


def test_get_set_overwrite_unset() -> None:
    assert Variable.get("region") is None
    assert Variable.get("region", default="us") == "us"
    created = Variable.set("region", "eu", tags=["geo"])
    assert (created.name, created.value, created.tags) == ("region", "eu", ["geo"])
    assert Variable.get("region") == "eu"
    with pytest.raises(ValueError, match=r"'region' already exists\. Use `overwrite=True`"):
        Variable.set("region", "ap")
    assert Variable.set("region", {"zone": [1, 2]}, overwrite=True).tags == []
    assert Variable.get("region") == {"zone": [1, 2]}
    assert Variable.unset("region") is True
    assert Variable.unset("region") is False
    assert Variable.get("region", 0) == 0


def test_names_and_values_are_checked() -> None:
    with pytest.raises(ValueError, match="lowercase letters, numbers, and dashes or underscores"):
        Variable.set("Region", 1)
    with pytest.raises(ValueError, match="serializable to JSON"):
        Variable.set("bad", object())
    with pytest.raises(ValueError, match="less than 5000 characters"):
        Variable.set("big", "x" * 5000)
    Variable.set("none", None)
    assert Variable.get("none", "default") is None  # a stored null is a value, as in Prefect
