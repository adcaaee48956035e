"""Cloning a Flow's git source with dulwich against a real git server on 127.0.0.1
(``git http-backend`` behind basic auth, tests/git_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.git_source import GitFetchError, GitRequest, checked_out_commit, fetch
from git_server import WorkingCopy, git_server, make_repo

pytestmark = pytest.mark.unit

USER, PASSWORD = "ci", "tok-9f2c41"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, WorkingCopy]]:
    root = tmp_path_factory.mktemp("git")
    (root / "srv").mkdir()
    (root / "scratch").mkdir()
    copy = make_repo(root / "srv", "flows", root / "scratch")
    copy.commit({"README": "flows\n"}, "init")
    with git_server(root / "srv", username=USER, password=PASSWORD) as url:
        yield f"{url}/flows.git", copy


def test_branch_and_commit_checkouts(served: tuple[str, WorkingCopy], tmp_path: Path) -> None:
    url, copy = served
    first = copy.commit({"flow.py": "VALUE = 'A'\n"}, "A")
    second = copy.commit({"flow.py": "VALUE = 'B'\n"}, "B")
    head = fetch(GitRequest(url, "main", None, USER, PASSWORD), tmp_path / "a")
    assert head == second == checked_out_commit(tmp_path / "a")
    assert (tmp_path / "a" / "flow.py").read_text() == "VALUE = 'B'\n"
    old = fetch(GitRequest(url, None, first, USER, PASSWORD), tmp_path / "b")
    assert old == first == checked_out_commit(tmp_path / "b")
    assert (tmp_path / "b" / "flow.py").read_text() == "VALUE = 'A'\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "wrong"}, "authentication failed"),
        ({"username": None, "password": None}, "authentication failed"),
        ({"ref": "no-such-branch"}, "'no-such-branch' is not a branch or tag"),
        ({"commit": "0" * 40, "ref": None}, "commit 0000000000000000000000000000000000000000"),
        ({"url": "/missing.git"}, "not a git repository"),
    ],
)
def test_failures_name_the_git_error_and_never_the_password(
    served: tuple[str, WorkingCopy], tmp_path: Path, change: dict[str, str | None], message: str
) -> None:
    url, _ = served
    values: dict[str, str | None] = {
        "url": url,
        "ref": "main",
        "commit": None,
        "username": USER,
        "password": PASSWORD,
    }
    values.update(change)
    if str(values["url"]).startswith("/"):
        values["url"] = url.rsplit("/", 1)[0] + str(values["url"])
    request = GitRequest(**values)  # type: ignore[arg-type]
    with pytest.raises(GitFetchError, match=message) as raised:
        fetch(request, tmp_path / "c")
    assert PASSWORD not in str(raised.value)
    assert not (tmp_path / "c").exists()


FLOW_FILE = """
from baton import flow


@flow
def hello(name: str = "world") -> str:
    return f"hello {name}"
"""


def test_from_source_and_deploy_write_the_git_source(
    served: tuple[str, WorkingCopy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``flow.from_source`` clones to load the flow (its schema) and remembers the source;
    ``baton deploy --git-url`` writes the same source from a local clone."""
    import json  # noqa: PLC0415

    from baton import Flow  # noqa: PLC0415
    from baton.cli import main  # noqa: PLC0415
    from baton.deploy import build_manifests  # noqa: PLC0415
    from baton.runner.storage import GitRepository  # noqa: PLC0415

    url, copy = served
    copy.commit({"pipelines/hello.py": FLOW_FILE}, "hello")
    repository = GitRepository(url, branch="main", credentials="git-token", sub_path="pipelines")
    monkeypatch.setattr("baton.git_source._local_credentials", lambda _: (USER, PASSWORD))
    loaded = Flow.from_source(repository, entrypoint="hello.py:hello")
    assert loaded.fn("you") == "hello you"
    flow_manifest = next(
        m
        for m in build_manifests(loaded, name="hello", entrypoint="hello.py:hello", image="img")
        if m["kind"] == "Flow"
    )
    assert flow_manifest["spec"]["source"] == {
        "git": {
            "url": url,
            "ref": "main",
            "subPath": "pipelines",
            "credentials": {"secretName": "git-token"},
        }
    }
    assert flow_manifest["spec"]["parameterSchema"]["properties"]["name"]["default"] == "world"

    monkeypatch.chdir(copy.work / "pipelines")
    argv = ["deploy", "hello.py:hello", "--name", "hello", "--image", "img", "--git-url", url,
            "--git-sub-path", "pipelines", "--block", "secret/api-key", "--dry-run",
            "-o", "json"]  # fmt: skip
    assert main(argv) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    spec = next(i for i in items if i["kind"] == "Flow")["spec"]
    assert spec["source"] == {"git": {"url": url, "subPath": "pipelines"}}
    assert spec["blocks"] == ["secret/api-key"]
