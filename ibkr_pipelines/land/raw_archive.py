"""The raw archive: every IBKR response body kept gzip-compressed and named by its sha256.

Layout under ``<data_dir>/raw/<partition>/``: ``<endpoint-slug>/<sha256>.json.gz`` (written once;
the same body twice is stored once) and an append-only ``index.jsonl`` with one line per response
(method, path, params, body, status, sha256, bytes, file, and the tags of the fetch: source, window,
run); ``body`` is the request body that was sent (null for a GET), so a POST can be replayed.
Headers and cookies are never given to it, the client hands over no session answer and no secret
parameter, and here again parameters and body keys that look like credentials (or are the Flex
token ``t``) are dropped, so no secret can land on disk. Lines written before ``body`` existed
simply lack it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from ibkr_pipelines.client.endpoints import FLEX_TOKEN_PARAM

_ACCOUNT_SEGMENT = re.compile(r"^(?:[A-Z]{1,3}\d{3,}[A-Z]?|All)$")
_SECRET_PARAM = re.compile(r"token|secret|signature|password|cookie|session|oauth|auth", re.IGNORECASE)
# Short secret names the pattern above cannot catch: the Flex token (reference §4.1).
_SECRET_NAMES = frozenset({FLEX_TOKEN_PARAM})

# A client response hook: (method, path, params, body, status, content).
ResponseHook = Callable[[str, str, Mapping[str, Any] | None, Any, int, bytes], None]


def _is_secret(name: Any) -> bool:
    return str(name).lower() in _SECRET_NAMES or bool(_SECRET_PARAM.search(str(name)))


def endpoint_slug(method: str, path: str) -> str:
    """A folder name per endpoint with ids folded out, e.g. ``get-portfolio-acct-positions-n``."""
    parts = [method.lower()]
    for segment in path.split("?")[0].strip("/").split("/"):
        if not segment:
            continue
        if _ACCOUNT_SEGMENT.match(segment):
            parts.append("acct")
        elif segment.isdigit():
            parts.append("n")
        else:
            parts.append(re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_") or "x")
    return "-".join(parts)


def safe_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Query parameters fit to store: anything named like a credential is dropped."""
    if not params:
        return {}
    return {str(k): v for k, v in params.items() if not _is_secret(k)}


def safe_body(body: Any) -> Any:
    """A request body fit to store: keys named like a credential are dropped at any depth."""
    if isinstance(body, Mapping):
        return {str(k): safe_body(v) for k, v in body.items() if not _is_secret(k)}
    if isinstance(body, (list, tuple)):
        return [safe_body(v) for v in body]
    if isinstance(body, (bytes, bytearray)):
        return None  # a raw body is never stored: it could hold anything
    return body


def request_key(method: str, path: str, params: Mapping[str, Any] | None, body: Any = None) -> str:
    """One text per request as the archive indexes it (credential-like parameters and body keys dropped)."""
    return json.dumps([method.upper(), path.split("?")[0], safe_params(params), safe_body(body)], sort_keys=True, default=str)


class RawArchive:
    """Content-addressed, compressed store of raw response bodies under ``<data_dir>/raw``."""

    def __init__(self, data_dir: Path | str) -> None:
        """Point at ``<data_dir>/raw`` (created on first record)."""
        self.root = Path(data_dir) / "raw"
        self._lock = threading.Lock()

    def body_path(self, partition: str, method: str, path: str, sha256: str) -> Path:
        """Where the body with this hash is stored for this partition and endpoint."""
        return self.root / partition / endpoint_slug(method, path) / f"{sha256}.json.gz"

    def index_path(self, partition: str) -> Path:
        """The append-only index of one partition."""
        return self.root / partition / "index.jsonl"

    def record(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        status: int,
        content: bytes,
        *,
        partition: str,
        body: Any = None,
        tags: Mapping[str, str] | None = None,
    ) -> Path:
        """Store one response body (once per content) and append an index line (with ``tags``); returns the body file.

        ``body`` is the request body that was sent (JSON), indexed without credential-like keys.
        """
        if not re.fullmatch(r"[A-Za-z0-9_.=-]+", partition):
            raise ValueError(f"partition must be a simple name such as 2024-05-01, got {partition!r}")
        sha = hashlib.sha256(content).hexdigest()
        target = self.body_path(partition, method, path, sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{sha}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                    gz.write(content)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        line = {
            "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "method": method.upper(),
            "path": path.split("?")[0],
            "params": safe_params(params),
            "body": safe_body(body),
            "status": status,
            "sha256": sha,
            "bytes": len(content),
            "file": target.relative_to(self.root / partition).as_posix(),
            **(tags or {}),
        }
        text = json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
        index = self.index_path(partition)
        with self._lock:
            index.parent.mkdir(parents=True, exist_ok=True)
            # One write() on an O_APPEND file: lines from other processes do not interleave.
            fd = os.open(index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
        return target

    def hook(self, partition: str, tags: Mapping[str, str] | None = None) -> ResponseHook:
        """A client response hook ``(method, path, params, body, status, content)`` recording into ``partition``.

        ``tags`` go on every index line: staging names the source, the window and the run, so a
        table can be rebuilt from exactly the answers one fetch received (``ibkr_pipelines.rebuild``).
        """

        def record_response(
            method: str, path: str, params: Mapping[str, Any] | None, body: Any, status: int, content: bytes
        ) -> None:
            """Archive one response body with the request that asked for it."""
            self.record(method, path, params, status, content, partition=partition, body=body, tags=tags)

        return record_response

    def read(self, body_file: Path) -> bytes:
        """The original bytes of an archived body."""
        with gzip.open(body_file, "rb") as handle:
            return handle.read()

    def entries(self, partition: str) -> list[dict[str, Any]]:
        """The index lines of one partition, in the order they were recorded."""
        index = self.index_path(partition)
        if not index.exists():
            return []
        return [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
