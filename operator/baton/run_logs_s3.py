"""A run's full log in an S3-compatible bucket (``pip install "baton[s3]"``).

Configured by the environment the operator (from the WorkPool's ``logs.s3``) or a process
worker gives the run: ``BATON_LOGS_S3_BUCKET``, ``BATON_LOGS_S3_ENDPOINT`` (a URL such as
``https://s3.eu-west-1.amazonaws.com`` or ``http://minio.storage:9000``),
``BATON_LOGS_S3_REGION``, ``BATON_LOGS_S3_PREFIX``, and the credentials in
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (from a Secret reference, never in a
status). Each batch the reporter ships is one object,
``<prefix><namespace>/<run>/<uid>/<attempt>/<seq>.jsonl``: S3 has no append, and an
object per batch keeps every line up to the last batch of a killed pod. Nothing is cut
here; only lines waiting while the bucket is unreachable are bounded
(``MAX_PENDING_BYTES``, oldest dropped first, counted). The bucket is best effort: a
failed upload is retried with the next batch and never holds up the run or its final
report, which the ConfigMap chunks back.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from baton.run_logs import LogEntry, log_owner_label

try:
    from minio.error import S3Error
except ImportError:  # without the extra no sink is built (``S3Config.client`` says why)

    class S3Error(Exception):  # type: ignore[no-redef]
        pass


if TYPE_CHECKING:
    from minio import Minio

    from baton.resources.workpool import S3LogStorage

logger = logging.getLogger("baton.run_logs")

#: Lines held while the bucket is unreachable (oldest dropped first).
MAX_PENDING_BYTES = 64 * 1024 * 1024
NDJSON = "application/x-ndjson"
ENV_BUCKET = "BATON_LOGS_S3_BUCKET"
ENV_ENDPOINT = "BATON_LOGS_S3_ENDPOINT"
ENV_REGION = "BATON_LOGS_S3_REGION"
ENV_PREFIX = "BATON_LOGS_S3_PREFIX"


def s3_environment(storage: S3LogStorage) -> dict[str, str]:
    """The run's environment for a pool's ``logs.s3`` (the credentials come apart)."""
    env = {ENV_BUCKET: storage.bucket, ENV_ENDPOINT: storage.endpoint, ENV_PREFIX: storage.prefix}
    if storage.region:
        env[ENV_REGION] = storage.region
    return env


class S3Unavailable(RuntimeError):
    """S3 logs are configured but the ``s3`` extra is not installed."""


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint: str
    region: str | None = None
    prefix: str = ""
    access_key: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Config | None:
        bucket = env.get(ENV_BUCKET, "")
        if not bucket:
            return None
        return cls(
            bucket=bucket,
            endpoint=env.get(ENV_ENDPOINT) or "https://s3.amazonaws.com",
            region=env.get(ENV_REGION) or None,
            prefix=env.get(ENV_PREFIX, ""),
            access_key=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        )

    def client(self) -> Minio:
        try:
            import urllib3  # noqa: PLC0415
            from minio import Minio  # noqa: PLC0415
        except ImportError as error:
            raise S3Unavailable(
                f'{ENV_BUCKET} is set but the S3 client is missing: pip install "baton[s3]" '
                f"({error})"
            ) from None
        url = urlsplit(self.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"{ENV_ENDPOINT} must be an http(s) URL, not {self.endpoint!r}")
        # Short timeouts and few retries: the reporter retries whole batches itself,
        # within the runtime's deadlines (the SDK's default waits minutes).
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=20.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
        )
        return Minio(
            url.netloc,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=url.scheme == "https",
            region=self.region,
            http_client=http,
        )

    def run_prefix(self, name: str, namespace: str, uid: str) -> str:
        return f"{self.prefix}{namespace}/{name}/{log_owner_label(name, uid)}/"


class S3LogSink:
    """One object per shipped batch under the run's prefix."""

    def __init__(
        self, config: S3Config, name: str, namespace: str, *, uid: str = "", attempt: int = 1
    ) -> None:
        self._config = config
        self._client = config.client()
        self._prefix = f"{config.run_prefix(name, namespace, uid)}{attempt:03d}/"
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._pending_bytes = 0
        self._seq = 0
        self.dropped_lines = 0
        self.writes = 0

    def pending(self) -> bool:
        return bool(self._pending)

    def offer(self, line: str) -> None:
        with self._lock:
            self._pending.append(line)
            self._pending_bytes += len(line.encode()) + 1
            while self._pending_bytes > MAX_PENDING_BYTES and len(self._pending) > 1:
                self._pending_bytes -= len(self._pending.popleft().encode()) + 1
                self.dropped_lines += 1

    def ship(self) -> None:
        with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, deque()
            size, self._pending_bytes = self._pending_bytes, 0
            seq = self._seq
        data = ("\n".join(batch) + "\n").encode()
        key = f"{self._prefix}{seq:06d}.jsonl"
        try:
            self._client.put_object(
                self._config.bucket, key, io.BytesIO(data), len(data), content_type=NDJSON
            )
        except S3Error as error:  # the server refused (credentials, bucket): not retried
            logger.warning("could not keep %d log lines in s3://%s: %s", len(batch), key, error)
            with self._lock:
                self.dropped_lines += len(batch)
            return
        except Exception as error:
            # Unreachable: keep the batch for the next interval, but never hold up the
            # run or its final report (the ConfigMap chunks still have the tail).
            logger.warning("S3 log upload failed, will retry next batch: %s", error)
            with self._lock:
                batch.extend(self._pending)
                self._pending = batch
                self._pending_bytes += size
            return
        with self._lock:
            self._seq += 1
        self.writes += 1


def read_s3_log(config: S3Config, name: str, namespace: str, uid: str) -> list[LogEntry]:
    """Every line of the run's full log in the bucket: attempt, then batch order."""
    client = config.client()
    prefix = config.run_prefix(name, namespace, uid)
    keys = sorted(
        str(obj.object_name)
        for obj in client.list_objects(config.bucket, prefix=prefix, recursive=True)
    )
    entries: list[LogEntry] = []
    for key in keys:
        response = client.get_object(config.bucket, key)
        try:
            text = response.read().decode(errors="replace")
        finally:
            response.close()
            response.release_conn()
        entries.extend(LogEntry.parse(line) for line in text.splitlines() if line)
    return entries
