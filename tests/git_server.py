"""A real git server for tests: ``git http-backend`` (smart HTTP) behind a small HTTP server.

``GitServer(root, host, username=..., password=...)`` serves every bare repository under
``root`` at ``http://host:port/<name>.git``, requiring HTTP basic auth when a username is
given. Each request runs git's own CGI program, so clients speak the real protocol to
real git. ``make_repo`` creates a bare repository with one commit and returns helpers to
push more.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


class WorkingCopy:
    """A clone of a served bare repository, to commit and push from."""

    def __init__(self, bare: Path, work: Path) -> None:
        self.bare = bare
        self.work = work
        git("init", "-q", "-b", "main", str(work), cwd=work.parent)
        git("remote", "add", "origin", str(bare), cwd=work)

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, content in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def make_repo(root: Path, name: str, scratch: Path) -> WorkingCopy:
    bare = root / f"{name}.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    git("config", "http.receivepack", "false", cwd=bare)
    return WorkingCopy(bare, scratch / name)


def _handler(root: Path, username: str | None, password: str | None) -> type:
    expected = (
        "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        if username
        else None
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _serve(self) -> None:
            if expected and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                **os.environ,
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": url.path,
                "QUERY_STRING": url.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode().split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def git_server(
    root: Path,
    host: str = "127.0.0.1",
    *,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[str]:
    """Serve ``root``'s bare repositories; yield the base URL ``http://host:port``."""
    server = ThreadingHTTPServer((host, 0), _handler(root, username, password))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
