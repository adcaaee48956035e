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
