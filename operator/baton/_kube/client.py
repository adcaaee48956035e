"""The only code that speaks HTTP to the Kubernetes API server.

Two thin clients over httpx — ``KubeClient`` (sync: runtime, CLI, worker) and
``AsyncKubeClient`` (the operator) — share URL building and error mapping, so a 409 is
always ``Conflict``/``AlreadyExists`` and a 404 always ``NotFound`` wherever it happens.
Objects are plain JSON dicts; typing them is the resource models' job.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from baton._kube.config import Credentials, load
from baton._kube.gate import NORMAL, PriorityGate
from baton.contract import GROUP, VERSION

Json = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]
#: A list of objects (the name ``list`` is a method inside the clients, shadowing the builtin).
Items = list[Json]
#: Told of every request the async client made: method, path, status code (or ``error``),
#: seconds to the response headers, and whether it was a watch. The operator's metrics
#: plug in here, so this module needs no metrics library.
RequestObserver = Callable[[str, str, str, float, bool], None]


def _ignore(method: str, path: str, code: str, seconds: float, watch: bool) -> None:
    return None


_PATCH_CONTENT = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


class ApiError(RuntimeError):
    """The API server refused a request; ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """A resourceVersion precondition failed (someone else wrote first)."""


class AlreadyExists(Conflict):
    pass


class Invalid(ApiError):
    """422: the object failed validation; ``message`` is the API server's explanation."""


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = str(body.get("reason") or response.reason_phrase)
    message = str(body.get("message") or response.text[:500])
    error: type[ApiError] = ApiError
    if response.status_code == 404:
        error = NotFound
    elif response.status_code == 409:
        error = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif response.status_code == 422:
        error = Invalid
    raise error(response.status_code, reason, message)


@dataclass(frozen=True)
class Kind:
    """Where a kind lives in the API: ``Kind("batch", "v1", "jobs")``."""

    group: str
    version: str
    plural: str

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        parts = [base]
        if namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


FLOWS = Kind(GROUP, VERSION, "flows")
WORKPOOLS = Kind(GROUP, VERSION, "workpools")
DEPLOYMENTS = Kind(GROUP, VERSION, "deployments")
FLOWRUNS = Kind(GROUP, VERSION, "flowruns")
AUTOMATIONS = Kind(GROUP, VERSION, "automations")
JOBS = Kind("batch", "v1", "jobs")
PODS = Kind("", "v1", "pods")
CONFIGMAPS = Kind("", "v1", "configmaps")
SECRETS = Kind("", "v1", "secrets")
EVENTS = Kind("events.k8s.io", "v1", "events")


def _list_params(
    label_selector: str | None, field_selector: str | None, limit: int | None, cont: str | None
) -> dict[str, str]:
    params: dict[str, str] = {}
    if label_selector:
        params["labelSelector"] = label_selector
    if field_selector:
        params["fieldSelector"] = field_selector
    if limit:
        params["limit"] = str(limit)
    if cont:
        params["continue"] = cont
    return params


#: Back-off before each retry of a transient failure (about 6 s in all).
_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 2.5)
_SAFE_METHODS = {"GET", "HEAD"}
#: How often a fenced write re-checks that this process leads again.
FENCE_POLL_SECONDS = 0.1


def transient(error: BaseException) -> bool:
    """An error a later attempt may not meet: the API server busy, restarting or away."""
    if isinstance(error, ApiError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, httpx.TransportError)


def _retryable(method: str, error: Exception) -> bool:
    """Reads retry any transient failure; writes only a 429, which was not processed."""
    if isinstance(error, ApiError):
        return error.status == 429 or (method in _SAFE_METHODS and transient(error))
    return method in _SAFE_METHODS or isinstance(error, httpx.ConnectError)


def _encode(credentials: Credentials, body: Any, content_type: str) -> tuple[str | None, Headers]:
    if body is None:
        return None, _headers(credentials)
    return json.dumps(body), _headers(credentials, {"Content-Type": content_type})


def _decode(response: httpx.Response) -> Json:
    _raise_for(response)
    result: Json = response.json() if response.content else {}
    return result


#: Streams (watches, log follows) must reach us event by event: a compressed stream
#: is held back in the decompressor until more bytes arrive.
_STREAMING = {"Accept-Encoding": "identity"}


class _LineSplitter:
    """Complete newline-terminated lines out of a byte stream, as soon as they end."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        return [line for line in lines if line.strip()]


Headers = list[tuple[str, str]]


def _headers(credentials: Credentials, extra: Mapping[str, str] | None = None) -> Headers:
    """Request headers: auth, impersonation (one ``Impersonate-Group`` per group), ``extra``.

    A list, not a dict: Kubernetes reads each group from a header of its own.
    """
    fixed = {"Accept": "application/json", "User-Agent": "baton", **(extra or {})}
    token = credentials.bearer()
    if token:
        fixed["Authorization"] = f"Bearer {token}"
    headers = list(fixed.items())
    if credentials.impersonate:
        headers.append(("Impersonate-User", credentials.impersonate))
        headers += [("Impersonate-Group", group) for group in credentials.impersonate_groups]
    return headers


class KubeClient:
    """Synchronous client: one connection pool, typed errors, JSON dicts in and out."""

    def __init__(self, credentials: Credentials | None = None, *, timeout: float = 30.0) -> None:
        self.credentials = credentials or load()
        self._http = httpx.Client(
            base_url=self.credentials.server, verify=self.credentials.ssl_context(), timeout=timeout
        )

    @property
    def namespace(self) -> str:
        return self.credentials.namespace

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Json:
        content, headers = _encode(self.credentials, body, content_type)
        for delay in (*_RETRY_DELAYS, None):
            try:
                response = self._http.request(
                    method, path, content=content, params=params, headers=headers
                )
                return _decode(response)
            except (ApiError, httpx.TransportError) as error:
                if delay is None or not _retryable(method, error):
                    raise
                time.sleep(delay)
        raise AssertionError("unreachable")

    def get(self, kind: Kind, name: str, namespace: str) -> Json:
        return self.request("GET", kind.path(namespace, name))

    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Json]:
        items, _ = self.list_versioned(
            kind, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return items

    def list_versioned(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Items, str]:
        """Every item, in pages of 500, and the list's resourceVersion (to watch from)."""
        items: Items = []
        cont: str | None = None
        while True:
            page = self.request(
                "GET",
                kind.path(namespace),
                params=_list_params(label_selector, field_selector, 500, cont),
            )
            items.extend(page.get("items", []))
            metadata = page.get("metadata", {})
            cont = metadata.get("continue")
            if not cont:
                return items, str(metadata.get("resourceVersion", ""))

    def create(self, kind: Kind, body: Json, namespace: str) -> Json:
        return self.request("POST", kind.path(namespace), body=body)

    def patch(
        self,
        kind: Kind,
        name: str,
        namespace: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> Json:
        return self.request(
            "PATCH",
            kind.path(namespace, name, subresource),
            body=patch,
            content_type=_PATCH_CONTENT[patch_type],
        )

    def patch_status(self, kind: Kind, name: str, namespace: str, patch: Any) -> Json:
        return self.patch(kind, name, namespace, patch, subresource="status")

    def delete(
        self, kind: Kind, name: str, namespace: str, *, propagation: str = "Background"
    ) -> Json:
        return self.request(
            "DELETE", kind.path(namespace, name), body={"propagationPolicy": propagation}
        )

    def stream_text(
        self, path: str, params: Mapping[str, str] | None = None, *, read_timeout: float = 30.0
    ) -> Iterator[str]:
        """Lines of a plain-text GET such as ``pods/<pod>/log`` (``follow=true`` streams)."""
        with self._http.stream(
            "GET",
            path,
            params=params,
            headers=_headers(self.credentials, {**_STREAMING, "Accept": "*/*"}),
            timeout=httpx.Timeout(10.0, read=read_timeout),
        ) as r:
            _raise_for_stream(r)
            splitter = _LineSplitter()
            for chunk in r.iter_bytes():
                yield from (line.decode(errors="replace") for line in splitter.feed(chunk))

    def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[Json]:
        """Stream watch events ({"type", "object"}) until the server closes the stream."""
        params = _list_params(label_selector, None, None, None)
        params.update(
            {"watch": "1", "timeoutSeconds": str(timeout_seconds), "allowWatchBookmarks": "true"}
        )
        if resource_version:
            params["resourceVersion"] = resource_version
        with self._http.stream(
            "GET",
            kind.path(namespace),
            params=params,
            headers=_headers(self.credentials, _STREAMING),
            timeout=httpx.Timeout(10.0, read=timeout_seconds + 10),
        ) as r:
            _raise_for_stream(r)
            splitter = _LineSplitter()
            for chunk in r.iter_bytes():
                yield from (json.loads(line) for line in splitter.feed(chunk))


def _raise_for_stream(response: httpx.Response) -> None:
    if response.status_code >= 400:
        response.read()
        _raise_for(response)


class AsyncKubeClient:
    """The asyncio twin of ``KubeClient`` for the operator's event loop."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        max_in_flight: int = 12,
        max_streams: int = 8,
        fence: Callable[[], bool] | None = None,
        observer: RequestObserver = _ignore,
    ) -> None:
        self.credentials = credentials or load()
        #: Writes wait while this is False (leader election: only the Lease holder writes).
        self._fence = fence
        self._observe = observer
        # Requests beyond ``max_in_flight`` wait in a priority gate (see ``gate``), not in
        # httpcore's pool: the pool
        # re-checks every connection for every queued request (quadratic, with a socket
        # poll each), which profiled as a third of the operator's CPU at a burst of 300
        # fire times. The API server on the same cores gains nothing from more parallel
        # requests anyway. Watch streams hold their connection for minutes, so they do
        # not take a slot; ``max_streams`` more connections are kept for them.
        self._gate = PriorityGate(max_in_flight)
        self._http = httpx.AsyncClient(
            base_url=self.credentials.server,
            verify=self.credentials.ssl_context(),
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_in_flight + max_streams,
                max_keepalive_connections=max_in_flight + max_streams,
            ),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        priority: int = NORMAL,
    ) -> Json:
        content, headers = _encode(self.credentials, body, content_type)
        if self._fence is not None and method not in _SAFE_METHODS:
            while not self._fence():
                await asyncio.sleep(FENCE_POLL_SECONDS)
        for delay in (*_RETRY_DELAYS, None):
            try:
                async with self._gate.slot(priority):
                    started = time.monotonic()
                    code = "error"
                    try:
                        response = await self._http.request(
                            method, path, content=content, params=params, headers=headers
                        )
                        code = str(response.status_code)
                    finally:
                        self._observe(method, path, code, time.monotonic() - started, False)
                return _decode(response)
            except (ApiError, httpx.TransportError) as error:
                if delay is None or not _retryable(method, error):
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def get(self, kind: Kind, name: str, namespace: str) -> Json:
        return await self.request("GET", kind.path(namespace, name))

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Json]:
        items: list[Json] = []
        cont: str | None = None
        while True:
            page = await self.request(
                "GET",
                kind.path(namespace),
                params=_list_params(label_selector, field_selector, 500, cont),
            )
            items.extend(page.get("items", []))
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                return items

    async def list_page(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        limit: int,
        cont: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Items, str | None]:
        """One page of at most ``limit`` objects and the token of the next (None: last).

        For views that show a page at a time (the UI): a ``continue`` token expires after
        the API server's compaction window (about five minutes), then a 410 says so.
        """
        page = await self.request(
            "GET",
            kind.path(namespace),
            params=_list_params(label_selector, field_selector, limit, cont),
        )
        return list(page.get("items", [])), page.get("metadata", {}).get("continue") or None

    async def create(
        self, kind: Kind, body: Json, namespace: str, *, priority: int = NORMAL
    ) -> Json:
        return await self.request("POST", kind.path(namespace), body=body, priority=priority)

    async def patch(
        self,
        kind: Kind,
        name: str,
        namespace: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        priority: int = NORMAL,
    ) -> Json:
        return await self.request(
            "PATCH",
            kind.path(namespace, name, subresource),
            body=patch,
            content_type=_PATCH_CONTENT[patch_type],
            priority=priority,
        )

    async def patch_status(
        self, kind: Kind, name: str, namespace: str, patch: Any, *, priority: int = NORMAL
    ) -> Json:
        return await self.patch(
            kind, name, namespace, patch, subresource="status", priority=priority
        )

    async def delete(
        self,
        kind: Kind,
        name: str,
        namespace: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
    ) -> Json:
        """Delete ``name``; with ``uid``, only that object (409 if the name was reused)."""
        body: Json = {"propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        return await self.request("DELETE", kind.path(namespace, name), body=body)

    async def stream_lines(self, path: str, params: Mapping[str, str]) -> AsyncIterator[Json]:
        """Each JSON line of a streaming GET (a watch), until the server ends it."""
        timeout = httpx.Timeout(10.0, read=float(params.get("timeoutSeconds", 300)) + 30)
        started = time.monotonic()
        observed = False
        try:
            async with self._http.stream(
                "GET",
                path,
                params=params,
                headers=_headers(self.credentials, _STREAMING),
                timeout=timeout,
            ) as response:
                self._observe(
                    "GET", path, str(response.status_code), time.monotonic() - started, True
                )
                observed = True
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for(response)
                splitter = _LineSplitter()
                async for chunk in response.aiter_bytes():
                    for line in splitter.feed(chunk):
                        yield json.loads(line)
        except httpx.TransportError:
            if not observed:
                self._observe("GET", path, "error", time.monotonic() - started, True)
            raise
