"""Who is asking: the identity every API call of a page is made as.

Three ways, one per ``baton ui --auth``:

- ``kubeconfig`` (the default, ``baton ui`` on a laptop): the one user of the kubeconfig.
- ``proxy`` (in a cluster, behind an authenticating proxy such as oauth2-proxy): the
  proxy's headers name the user and groups; the UI's ServiceAccount, which may do
  nothing but *impersonate*, makes each call as that user (``Impersonate-User`` and
  ``Impersonate-Group``), so the API server applies the user's RBAC. The headers are
  trusted, so the proxy must be the only way to the UI (docs/ui.md).
- ``token`` (in a cluster, no proxy): the user signs in with a bearer token the API
  server accepts (``kubectl create token``, an OIDC ID token); the API server says whose
  it is (a SelfSubjectReview) and every call carries it. The token stays in the server's
  memory, behind a random session cookie; it is never written anywhere.

Each identity has its own ``Access`` (client, review cache, run index), at most
``MAX_IDENTITIES`` at once, least recently used first out.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request

from baton._kube.client import AsyncKubeClient
from baton._kube.config import Credentials
from baton.ui.access import Access

MAX_IDENTITIES = 256
#: A signed-in session ends after this long without a request (seconds).
SESSION_IDLE = 8 * 3600
SESSION_COOKIE = "baton_session"
#: Users and groups the proxy mode never impersonates.
RESERVED_PREFIX = "system:"
_SELF_REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Identity:
    key: str  # what the Access cache is keyed by
    user: str  # shown in the page header
    credentials: Credentials


class SignInRequired(Exception):
    """No identity on this request: the token mode's sign-in page, or a proxy's 401."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Authenticator(Protocol):
    mode: str

    async def identify(self, request: Request) -> Identity: ...


class KubeconfigUser:
    """``baton ui`` on a laptop: everyone who can reach 127.0.0.1:4200 is its user."""

    mode = "kubeconfig"

    def __init__(self, credentials: Credentials, user: str) -> None:
        self.identity = Identity("kubeconfig", user, credentials)

    async def identify(self, request: Request) -> Identity:
        return self.identity


class ProxyHeaders:
    """An authenticating proxy's user and groups, impersonated by the UI's identity."""

    mode = "proxy"

    def __init__(
        self,
        credentials: Credentials,
        *,
        user_header: str = "X-Forwarded-User",
        groups_header: str = "X-Forwarded-Groups",
    ) -> None:
        self.credentials = credentials
        self.user_header = user_header
        self.groups_header = groups_header

    async def identify(self, request: Request) -> Identity:
        user = request.headers.get(self.user_header, "").strip()
        if not user:
            raise SignInRequired(
                f"no {self.user_header} header: this UI expects an authenticating proxy"
            )
        groups = tuple(
            sorted(
                {
                    g.strip()
                    for value in request.headers.getlist(self.groups_header)
                    for g in value.split(",")
                    if g.strip()
                }
            )
        )
        reserved = [name for name in (user, *groups) if name.startswith(RESERVED_PREFIX)]
        if reserved:
            # Kubernetes' own identities (system:masters, system:serviceaccount:...) are
            # never a person behind a proxy: a header naming one is refused, whatever
            # the proxy passed through.
            raise HTTPException(403, f"the UI does not act as {', '.join(reserved)}")
        return Identity(
            f"proxy:{user}|{','.join(groups)}",
            user,
            replace(self.credentials, impersonate=user, impersonate_groups=groups),
        )


@dataclass
class _Session:
    identity: Identity
    seen: float


class BearerTokens:
    """Users sign in with a bearer token; a random session cookie finds it again."""

    mode = "token"

    def __init__(self, credentials: Credentials) -> None:
        # The cluster's address and CA; the UI's own credentials are never used.
        self.base = credentials.anonymous()
        self._sessions: dict[str, _Session] = {}

    async def identify(self, request: Request) -> Identity:
        sid = request.cookies.get(SESSION_COOKIE, "")
        session = self._sessions.get(sid)
        now = time.monotonic()
        if session is None or now - session.seen > SESSION_IDLE:
            self._sessions.pop(sid, None)
            raise SignInRequired("sign in with a Kubernetes bearer token")
        session.seen = now
        return session.identity

    async def sign_in(self, token: str) -> str:
        """A new session for ``token`` if the API server accepts it; its id."""
        credentials = replace(self.base, token=token.strip())
        async with contextlib.aclosing(
            AsyncKubeClient(credentials, max_in_flight=2, max_streams=0)
        ) as client:
            review = await client.request(
                "POST",
                _SELF_REVIEW,
                body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
        user = str(((review.get("status") or {}).get("userInfo") or {}).get("username") or "?")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        sid = secrets.token_urlsafe(32)
        identity = Identity(f"token:{digest}", user, credentials)
        self._sessions[sid] = _Session(identity, time.monotonic())
        return sid

    def sign_out(self, sid: str) -> None:
        self._sessions.pop(sid, None)


@dataclass(frozen=True)
class Session:
    """One request's identity, its Access, and the form token bound to it."""

    identity: Identity
    access: Access
    csrf: str


class Identities:
    """An ``Access`` per identity, the least recently used closed beyond the cap."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self._secret = secrets.token_bytes(32)
        self._access: OrderedDict[str, tuple[Access, AsyncKubeClient]] = OrderedDict()

    async def session(self, request: Request) -> Session:
        cached: Session | None = getattr(request.state, "session", None)
        if cached is not None:
            return cached
        identity = await self.authenticator.identify(request)
        entry = self._access.get(identity.key)
        if entry is None:
            client = AsyncKubeClient(identity.credentials)
            entry = self._access[identity.key] = (Access(client), client)
            while len(self._access) > MAX_IDENTITIES:
                _, (old, old_client) = self._access.popitem(last=False)
                await old.close()
                await old_client.aclose()
        self._access.move_to_end(identity.key)
        csrf = hmac.new(self._secret, identity.key.encode(), hashlib.sha256).hexdigest()
        session = Session(identity, entry[0], csrf)
        request.state.session = session
        return session

    async def close(self) -> None:
        for access, client in self._access.values():
            await access.close()
            await client.aclose()
        self._access.clear()


__all__ = [
    "Authenticator",
    "BearerTokens",
    "Identities",
    "Identity",
    "KubeconfigUser",
    "ProxyHeaders",
    "Session",
    "SignInRequired",
]
