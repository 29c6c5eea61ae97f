"""A scripted HTTP server on 127.0.0.1 that records every request it gets (method, path, query, headers, body)."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit
from contextlib import contextmanager


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class Loopback:
    """Answers ``"METHOD /path"`` from a script of ``(status, body, headers)``; the last entry repeats."""

    def __init__(self, script: dict[str, list[tuple[Any, ...]]]) -> None:
        self.script = {k: deque(v) for k, v in script.items()}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _next(self, key: str) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            queue = self.script.get(key)
            if not queue:
                return 404, json.dumps({"error": f"unscripted {key}"}).encode(), {"Content-Type": "application/json"}
            entry = queue.popleft() if len(queue) > 1 else queue[0]
        status, body, headers = (*entry, {})[:3]
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        return status, body, headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with loopback._lock:
                    loopback.seen.append(Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body))
                status, content, headers = loopback._next(f"{self.command} {parts.path}")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator["Loopback"]:
        """Serve in a thread while inside the block."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)
