"""The pure halves of the tenant defences: what a pool lets a Deployment set, what the
cluster cache may serialise, which entrypoints stay in the code root, code digests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton._engine.cache_store import FileSystemCacheStore, storable_serializer
from baton.cli.loading import EntrypointError, entrypoint_file
from baton.resources import JobTemplate, WorkPoolSpec
from baton.resources.flow import entrypoint_problem, source_digest
from baton.resources.job_template import JobVariable, refused_job_variables

pytestmark = pytest.mark.unit


def refused(variables: dict[str, Any], allowed: list[str] | None = None) -> list[str]:
    pool = WorkPoolSpec.model_validate({} if allowed is None else {"allowedJobVariables": allowed})
    return refused_job_variables(JobTemplate.model_validate(variables), pool.allowed_job_variables)


def test_the_default_pool_allows_only_resources_deadlines_and_pull_policy() -> None:
    assert refused({"resources": {"limits": {"cpu": "1"}}, "activeDeadlineSeconds": 5}) == []
    assert refused({"imagePullPolicy": "Always", "ttlSecondsAfterFinished": 1}) == []
    [problem] = refused({"env": [{"name": "A", "value": "1"}]})
    assert problem == "env is not among the WorkPool's allowedJobVariables"


def test_identity_and_privilege_are_refused_whatever_the_pool_allows() -> None:
    problems = refused(
        {
            "serviceAccountName": "admin",
            "securityContext": {"privileged": True},
            "podSecurityContext": {"runAsUser": 0},
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}],
            "env": [{"name": "BATON_ENTRYPOINT", "value": "x.py:f"}],
        },
        allowed=[str(v) for v in JobVariable],
    )
    assert len(problems) == 5, problems
    assert any("serviceAccountName is the WorkPool owner's decision" in p for p in problems)
    assert any("volumes[0] mounts a hostPath" in p for p in problems)
    assert any("BATON_ENTRYPOINT is reserved" in p for p in problems)


def test_a_pool_cannot_list_a_pool_owner_field() -> None:
    with pytest.raises(ValueError, match="allowedJobVariables"):
        WorkPoolSpec.model_validate({"allowedJobVariables": ["serviceAccountName"]})


class _SharedStore(FileSystemCacheStore):
    accepts_pickle = False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"rows": [1, 2.5, "x", None, True]}, "json"),
        ((1, 2), None),
        ({1: "int key"}, None),
        (float("nan"), None),
        ({"nested": [{"set": {1}}]}, None),
    ],
)
def test_a_shared_store_gets_json_for_plain_values_and_nothing_else(
    tmp_path: Path, value: Any, expected: str | None
) -> None:
    assert storable_serializer(value, "pickle", _SharedStore(tmp_path)) == expected
    assert storable_serializer(value, "pickle", FileSystemCacheStore(tmp_path)) == "pickle"


@pytest.mark.parametrize(
    "entrypoint", ["/etc/x.py:f", "../x.py:f", "a/../../x.py:f", "a/..:f", "..:f"]
)
def test_entrypoints_leaving_the_code_root_are_refused(entrypoint: str) -> None:
    assert entrypoint_problem(entrypoint) is not None


@pytest.mark.parametrize("entrypoint", ["flows/etl.py:etl", "pkg.mod:f", "a..b/x.py:f", "./x.py:f"])
def test_entrypoints_inside_the_code_root_pass(entrypoint: str) -> None:
    assert entrypoint_problem(entrypoint) is None


def test_a_symlink_out_of_the_code_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    with pytest.raises(EntrypointError, match="outside the code root"):
        entrypoint_file("out/evil.py", tmp_path / "root")
    assert entrypoint_file("flow.py", tmp_path / "root") == (tmp_path / "root" / "flow.py")


def test_the_source_digest_covers_names_and_contents() -> None:
    base = source_digest({"a.py": b"x", "b.py": b"y"})
    assert base == source_digest({"b.py": b"y", "a.py": b"x"})
    assert base != source_digest({"a.py": b"x", "b.py": b"y "})
    assert base != source_digest({"a.py": b"xb.py", "": b"y"})
    assert base != source_digest({"a.py": b"x"})
