"""Is that process still there? Answers for pacing leases and for runs whose process may have died.

A pid alone can be reused by a later process, so a process is named by ``host|pid|start`` where
``start`` is the kernel's start time of the process (``/proc/<pid>/stat``): the same pid with another
start time is another process.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_ticks(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), or None when it is gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) comes after the command name, which is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def process_identity(pid: int | None = None) -> str:
    """``host|pid|start`` of a process (this one by default)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{pid}|{start_ticks(pid) or '?'}"


def process_gone(identity: str) -> bool:
    """True when ``identity`` names a process of this host that no longer runs (never for other hosts)."""
    try:
        host, pid_text, started = identity.split("|")
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    now_started = start_ticks(pid)
    if now_started is None:
        return True if Path("/proc").is_dir() else not pid_alive(pid)
    return started not in ("?", now_started)  # another process now has the pid: ours is gone
