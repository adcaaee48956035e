"""Flow code from git: clone a Flow's ``source.git`` before the flow starts.

Used in two places, the same way: the Job's init container (``baton git-fetch``, in the
flow's own image, controller/jobs.py) and a process worker (into a per-run directory).
The clone is done by dulwich, a pure-Python git, so the runtime image needs no git
binary. A branch or tag is fetched shallow (depth 1); a commit needs the history.

Credentials are read from files (the Secret mounted into the init container only) and
handed to the HTTP client, never put in the URL, the environment of the flow, or a
message: any error text is scrubbed of the password before it is reported.

A failed clone (bad URL, missing ref, wrong credentials) ends the FlowRun Failed with
git's error before any flow code exists in the pod.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton import contract

if TYPE_CHECKING:
    from baton._kube.client import KubeClient

logger = logging.getLogger("baton.git")

#: The init container's inputs (controller/jobs.py writes them, ``main`` reads them).
URL_ENV = "BATON_GIT_URL"
REF_ENV = "BATON_GIT_REF"
COMMIT_ENV = "BATON_GIT_COMMIT"
TARGET_ENV = "BATON_GIT_TARGET"
CREDENTIALS_DIR_ENV = "BATON_GIT_CREDENTIALS_DIR"
#: In the flow's container: the checkout the runtime reads its commit from.
CHECKOUT_ENV = "BATON_SOURCE_CHECKOUT"


class GitFetchError(RuntimeError):
    """The repository could not be cloned at the requested revision."""


@dataclass(frozen=True)
class GitRepository:
    """A repository for ``Flow.from_source`` (Prefect's ``prefect.runner.storage``).

    ``credentials`` is Baton's: the name of a Secret in the Flow's namespace with keys
    ``username`` and ``password``, mounted only into the clone's init container.
    """

    url: str
    branch: str | None = None
    commit_sha: str | None = None
    credentials: str | None = None
    sub_path: str | None = None

    def source(self) -> dict[str, Any]:
        """``Flow.spec.source`` for this repository."""
        git: dict[str, Any] = {"url": self.url}
        optional = {"ref": self.branch, "commit": self.commit_sha, "subPath": self.sub_path}
        git.update({k: v for k, v in optional.items() if v})
        if self.credentials:
            git["credentials"] = {"secretName": self.credentials}
        return {"git": git}


@dataclass(frozen=True)
class GitRequest:
    url: str
    ref: str | None = None
    commit: str | None = None
    username: str | None = None
    password: str | None = None


def _describe(error: Exception, request: GitRequest) -> str:
    from dulwich.client import HTTPUnauthorized  # noqa: PLC0415
    from dulwich.errors import NotGitRepository  # noqa: PLC0415

    if isinstance(error, HTTPUnauthorized):
        text = f"authentication failed for {request.url} (check the credentials Secret)"
    elif isinstance(error, NotGitRepository):
        text = f"{request.url} is not a git repository (or it does not exist)"
    elif isinstance(error, KeyError) and request.commit:
        text = f"commit {request.commit} is not in {request.url}"
    else:
        text = str(error).strip() or type(error).__name__
        if isinstance(error, ValueError) and request.ref and "not a valid branch" in text:
            text = f"ref {request.ref!r} is not a branch or tag of {request.url}"
    if request.password:
        text = text.replace(request.password, "***")
    return f"git: {text}"


def fetch(request: GitRequest, target: Path) -> str:
    """Clone ``request`` into ``target`` (emptied first); return the checked-out commit.

    Raises:
        GitFetchError: With git's error, the password scrubbed from it.
    """
    from dulwich import porcelain  # noqa: PLC0415 - only git-sourced runs pay for it
    from dulwich.client import get_transport_and_path  # noqa: PLC0415

    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    auth = {"username": request.username, "password": request.password} if request.username else {}
    client = None
    try:
        client, path = get_transport_and_path(request.url, **auth)  # type: ignore[arg-type]
        repo = client.clone(
            path,
            str(target),
            mkdir=True,
            depth=None if request.commit else 1,
            branch=None if request.commit else request.ref,
            origin_url=request.url,
        )
        try:
            if request.commit:
                repo[request.commit.encode()]  # KeyError when absent
                porcelain.reset(repo, "hard", request.commit)
            commit = repo.head().decode()
        finally:
            repo.close()
    except Exception as error:
        shutil.rmtree(target, ignore_errors=True)
        message = _describe(error, request)
        del error
        _drop_abandoned_connections()
        raise GitFetchError(message) from None
    finally:
        # dulwich's HTTP client keeps its connection pool open: close it here.
        pool = getattr(client, "pool_manager", None)
        if pool is not None:
            pool.clear()
    return commit


def _drop_abandoned_connections() -> None:
    """dulwich raises on a 401 without releasing the response, so its connection is only
    closed by the garbage collector, with a ResourceWarning: collect it now, quietly."""
    import gc  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def checked_out_commit(checkout: Path) -> str | None:
    """The commit ``checkout`` is at, read from its ``.git`` (None if it is no checkout)."""
    from dulwich.errors import NotGitRepository  # noqa: PLC0415
    from dulwich.repo import Repo  # noqa: PLC0415

    try:
        repo = Repo(str(checkout))
    except NotGitRepository:
        return None
    try:
        return repo.head().decode()
    finally:
        repo.close()


def read_credentials(directory: Path) -> tuple[str | None, str | None]:
    """``username`` and ``password`` files of a mounted basic-auth Secret."""

    def read(name: str) -> str | None:
        path = directory / name
        return path.read_text().strip() if path.exists() else None

    return read("username"), read("password")


def request_for_flow(client: KubeClient, flow: dict[str, Any], namespace: str) -> GitRequest | None:
    """A process worker's clone of ``flow``'s ``source.git``, credentials read with the
    worker's own identity (None when the Flow has no git source)."""
    import base64  # noqa: PLC0415

    from baton._kube.client import SECRETS, NotFound  # noqa: PLC0415

    git = ((flow.get("spec") or {}).get("source") or {}).get("git")
    if not git:
        return None
    username = password = None
    secret_name = (git.get("credentials") or {}).get("secretName")
    if secret_name:
        try:
            data = client.get(SECRETS, secret_name, namespace).get("data") or {}
        except NotFound:
            raise GitFetchError(
                f'git: the credentials Secret "{secret_name}" does not exist'
            ) from None
        username = base64.b64decode(data.get("username", "")).decode() or None
        password = base64.b64decode(data.get("password", "")).decode() or None
    return GitRequest(
        url=str(git["url"]),
        ref=git.get("ref"),
        commit=git.get("commit"),
        username=username,
        password=password,
    )


def load_from_source(source: str | GitRepository, entrypoint: str) -> Any:
    """``Flow.from_source``: clone ``source`` here and load ``entrypoint`` from the clone;
    the flow remembers its source, so ``.deploy()`` writes ``spec.source.git``."""
    import tempfile  # noqa: PLC0415

    from baton.cli.loading import load_flow  # noqa: PLC0415

    repository = source if isinstance(source, GitRepository) else GitRepository(url=source)
    username = password = None
    if repository.credentials:
        username, password = _local_credentials(repository.credentials)
    checkout = Path(tempfile.mkdtemp(prefix="baton-source-")) / "repo"
    fetch(
        GitRequest(repository.url, repository.branch, repository.commit_sha, username, password),
        checkout,
    )
    base = checkout / repository.sub_path if repository.sub_path else checkout
    flow = load_flow(entrypoint, base=base)
    if not hasattr(flow, "fn"):
        raise TypeError(f"{entrypoint} in {repository.url} is not a @flow")
    flow._baton_source = repository.source()
    flow._baton_entrypoint = entrypoint
    return flow


def _local_credentials(secret_name: str) -> tuple[str | None, str | None]:
    """A repository's credentials Secret, read with the user's kubeconfig."""
    from baton._kube.client import KubeClient  # noqa: PLC0415
    from baton._kube.config import load  # noqa: PLC0415

    credentials = load()
    with KubeClient(credentials) as client:
        request = request_for_flow(
            client,
            {"spec": {"source": {"git": {"url": "x", "credentials": {"secretName": secret_name}}}}},
            credentials.namespace,
        )
    return (request.username, request.password) if request else (None, None)


def request_from_env(env: dict[str, str]) -> GitRequest:
    username = password = None
    if env.get(CREDENTIALS_DIR_ENV):
        username, password = read_credentials(Path(env[CREDENTIALS_DIR_ENV]))
    return GitRequest(
        url=env[URL_ENV],
        ref=env.get(REF_ENV) or None,
        commit=env.get(COMMIT_ENV) or None,
        username=username,
        password=password,
    )


def main(env: dict[str, str] | None = None) -> int:
    """``baton git-fetch``: the init container. On failure the run ends Failed, reported
    here (the flow's container never starts)."""
    values = dict(env if env is not None else os.environ)
    request = request_from_env(values)
    target = Path(values[TARGET_ENV])
    try:
        commit = fetch(request, target)
    except GitFetchError as error:
        sys.stderr.write(f"{error}\n")
        _report_failure(values, str(error))
        return 1
    sys.stderr.write(f"git: {request.url} at {commit}\n")
    return 0


def _report_failure(env: dict[str, str], message: str) -> None:
    if not env.get(contract.ENV_RUN_NAME):
        return
    from baton._kube.client import KubeClient  # noqa: PLC0415

    report_failure(KubeClient(), env, message)


def report_failure(client: KubeClient, env: dict[str, str], message: str) -> None:
    """End the run named in ``env`` Failed with the clone's error, before the flow starts."""
    from baton.reporting import StatusReporter  # noqa: PLC0415

    reporter = StatusReporter(
        client,
        env[contract.ENV_RUN_NAME],
        env[contract.ENV_RUN_NAMESPACE],
        uid=env.get(contract.ENV_RUN_UID, ""),
        attempt=int(env.get(contract.ENV_ATTEMPT, "1")),
    ).start()
    reporter.report_final("Failed", message, GitFetchError(message))
    if not reporter.close():
        logger.error("could not report the failed clone to the FlowRun")


__all__ = [
    "CHECKOUT_ENV",
    "GitFetchError",
    "GitRepository",
    "GitRequest",
    "checked_out_commit",
    "fetch",
    "load_from_source",
    "main",
    "read_credentials",
    "report_failure",
    "request_for_flow",
]
