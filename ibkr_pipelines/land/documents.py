"""Documents kept as files beside the lake's tables (statements' PDFs), written atomically and only when changed.

Layout: ``<data_dir>/lake/<folder>/<name parts...>``, e.g.
``lake/statements_files/U1234567/daily/2026-11-20_2026-11-20.pdf``. A file is written to a temporary
name in its folder and renamed over the target, as lake partitions are (``lake.py``), so a reader never
sees half a document; a document whose bytes equal the file already there is not written again, so an
unchanged re-run touches nothing. Paths are checked part by part: a name from IBKR cannot leave the lake.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=-]*")


def write_bytes_atomic(content: bytes, path: Path) -> Path:
    """Write ``content`` to ``path`` via a temporary file in its folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, lowercase hex (read in chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DocumentStore:
    """Files under ``<data_dir>/lake``; ``save`` returns the path relative to the data folder."""

    def __init__(self, data_dir: Path | str) -> None:
        """Point at ``data_dir`` (the folder holding ``lake/``)."""
        self.data_dir = Path(data_dir)

    def relative_path(self, *parts: str) -> str:
        """``lake/<parts...>`` as a POSIX path relative to the data folder; ValueError for an unsafe part."""
        bad = [p for p in parts if not _SAFE_PART.fullmatch(p) or p in (".", "..")]
        if bad or not parts:
            raise ValueError(f"not a safe file name part: {bad[0] if bad else '(none)'}")
        return "/".join(("lake", *parts))

    def save(self, relative: str, content: bytes) -> bool:
        """Put ``content`` at ``relative`` (from ``relative_path``); False when the file already held exactly these bytes."""
        target = self.data_dir / relative
        if target.is_file() and target.stat().st_size == len(content) \
                and file_sha256(target) == hashlib.sha256(content).hexdigest():
            return False
        write_bytes_atomic(content, target)
        return True
