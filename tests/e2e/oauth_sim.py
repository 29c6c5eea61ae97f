"""An ``ibkr-pipelines simulator`` process standing in for api.ibkr.com under libfaketime, for the OAuth e2e tests.

A real account serves only today's snapshot, so the simulator and the CLI both run on DAY's New York
evening (libfaketime), the simulator first: their clocks agree within the seconds between their starts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.cli_helpers import (EXE, FAKETIME_LIB, FAST, NO_FAKETIME, Workdir, clean_env, faked_clock, free_port,
                                   kill_group)
from tests.e2e.secret_scan import files_containing

__all__ = ["DAY", "EVENING", "NEW_YORK", "FAKETIME_LIB", "NO_FAKETIME", "SimProcess", "files_containing", "key_slice", "private_pem"]

DAY = "2026-11-20"
EVENING = f"{DAY} 20:00:00"
NEW_YORK = "America/New_York"


def private_pem(path: Path) -> tuple[Path, Path]:
    """A fresh RSA key: the private PEM (for the client) and the public PEM (handed to IBKR's portal)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    public = path.with_suffix(".pub.pem")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return path, public


def key_slice(path: Path) -> str:
    """A slice of a private key's base64 body: what a secret scan looks for."""
    body = "".join(line for line in path.read_text().splitlines() if "PRIVATE KEY" not in line)
    return body[40:100]


class SimProcess:
    """The simulator CLI with OAuth registration flags, run under libfaketime at EVENING; always stopped."""

    def __init__(self, *flags: str, ready: Callable[[], bool] = lambda: True) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(EXE), "simulator", "--port", str(self.port), "--date", DAY, "--limits", FAST, *flags],
            env=clean_env(**faked_clock(EVENING, NEW_YORK)), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not self._answers(ready):
            assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.2)

    @property
    def base_url(self) -> str:
        """The Client Portal root the client is given."""
        return f"http://127.0.0.1:{self.port}/v1/api"

    def _answers(self, ready: Callable[[], bool]) -> bool:
        try:
            self.stats()
            return ready()
        except OSError:
            return False

    def control(self, path: str, body: Any = None) -> Any:
        """GET a /sim/* control path, or POST ``body`` to it (not paced, not counted)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         method="GET" if data is None else "POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def stats(self) -> dict[str, Any]:
        """The simulator's counters."""
        return self.control("/sim/stats")

    def run(self, work: Workdir, *, at: str = EVENING, timeout: float = 300) -> Any:
        """``ingest --date DAY`` under libfaketime at ``at`` (New York)."""
        return work.run(["ingest", "--date", DAY], timeout=timeout, **faked_clock(at, NEW_YORK))

    def ingest_in_background(self, work: Workdir) -> subprocess.Popen[str]:
        """``ingest --date DAY`` started and left running (a test acts on the simulator meanwhile)."""
        return subprocess.Popen([str(EXE), "ingest", "--date", DAY],
                                cwd=work.root, env=clean_env(**work.env, **faked_clock(EVENING, NEW_YORK)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def stop(self) -> None:
        """Stop the simulator (its process group), politely first."""
        try:
            kill_group(self.process, signal.SIGTERM)
        except subprocess.TimeoutExpired:
            kill_group(self.process)
