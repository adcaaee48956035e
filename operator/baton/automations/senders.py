"""Notification I/O: Slack and webhooks over async httpx, mail with smtplib in a thread.

Nothing here blocks the event loop: HTTP is asynchronous with a timeout, and SMTP (the
standard library's client, which is synchronous) runs in a worker thread under its own
socket timeout plus an overall deadline. Each sender raises ``Retryable`` for what may
work later (a 5xx, 429, a refused connection, a timeout) and ``Permanent`` for what will
not (a 4xx), so the caller can apply backoff or give up.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

import httpx

#: Per request: connect, read and write each (an unreachable endpoint costs this long).
HTTP_TIMEOUT = 10.0
SMTP_TIMEOUT = 10.0
#: How much of a receiver's answer is kept for the status and Events.
ANSWER_LIMIT = 300


class DeliveryError(Exception):
    """A delivery did not happen; ``str()`` says why (bounded)."""


class Retryable(DeliveryError):
    pass


class Permanent(DeliveryError):
    pass


def _answer(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}: {response.text[:ANSWER_LIMIT]}".strip()


async def post(client: httpx.AsyncClient, url: str, body: str, content_type: str) -> str:
    """POST ``body`` to ``url``; the receiver's answer, or raise a ``DeliveryError``."""
    try:
        response = await client.post(
            url, content=body.encode(), headers={"Content-Type": content_type}
        )
    except httpx.HTTPError as error:
        raise Retryable(f"{type(error).__name__}: {error}"[:ANSWER_LIMIT]) from error
    if response.status_code < 300:
        return _answer(response)
    if response.status_code >= 500 or response.status_code in (408, 425, 429):
        raise Retryable(_answer(response))
    raise Permanent(_answer(response))


def new_http_client() -> httpx.AsyncClient:
    # No redirects: a receiver must not bounce a credential-bearing request elsewhere.
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)


def _send_mail(
    host: str,
    port: int,
    *,
    starttls: bool,
    username: str | None,
    password: str | None,
    message: EmailMessage,
) -> str:
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
        if starttls:
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password or "")
        refused = smtp.send_message(message)
    if refused:
        raise Permanent(f"refused recipients: {sorted(refused)}"[:ANSWER_LIMIT])
    return f"SMTP {host}:{port} accepted"


async def send_mail(
    host: str,
    port: int,
    *,
    starttls: bool,
    username: str | None,
    password: str | None,
    sender: str,
    to: list[str],
    subject: str,
    body: str,
) -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = " ".join(subject.split())[:998]  # one header line
    message.set_content(body)
    try:
        async with asyncio.timeout(3 * SMTP_TIMEOUT):  # not wait_for: it can drop a cancel
            return await asyncio.to_thread(
                _send_mail,
                host,
                port,
                starttls=starttls,
                username=username,
                password=password,
                message=message,
            )
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as error:
        raise Permanent(f"{type(error).__name__}: {error}"[:ANSWER_LIMIT]) from error
    except (smtplib.SMTPException, OSError, TimeoutError) as error:
        raise Retryable(f"{type(error).__name__}: {error}"[:ANSWER_LIMIT]) from error
