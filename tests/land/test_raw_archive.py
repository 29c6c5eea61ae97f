from __future__ import annotations

import gzip
import hashlib

from ibkr_pipelines.land.raw_archive import RawArchive, endpoint_slug


def test_body_is_stored_compressed_under_its_hash(tmp_path):
    archive = RawArchive(tmp_path)
    body = b'[{"conid": 1}]'
    path = archive.record("GET", "/portfolio/U1234567/positions/0", None, 200, body, partition="2026-04-01")
    sha = hashlib.sha256(body).hexdigest()
    assert path == tmp_path / "raw/2026-04-01/get-portfolio-acct-positions-n" / f"{sha}.json.gz"
    assert gzip.decompress(path.read_bytes()) == body
    assert archive.read(path) == body


def test_same_body_is_stored_once_but_indexed_each_time(tmp_path):
    archive = RawArchive(tmp_path)
    first = archive.record("GET", "/trsrv/secdef", {"conids": "1,2"}, 200, b"{}", partition="2026-04-01")
    before = first.stat().st_mtime_ns
    second = archive.record("GET", "/trsrv/secdef", {"conids": "1,2"}, 200, b"{}", partition="2026-04-01")
    assert first == second and first.stat().st_mtime_ns == before
    entries = archive.entries("2026-04-01")
    assert len(entries) == 2
    assert entries[0]["params"] == {"conids": "1,2"}
    assert entries[0]["status"] == 200 and entries[0]["bytes"] == 2
    assert entries[0]["sha256"] == hashlib.sha256(b"{}").hexdigest()


def test_credential_like_params_are_never_written(tmp_path):
    archive = RawArchive(tmp_path)
    archive.record("GET", "/portfolio/accounts", {"oauth_token": "s3cret", "page": 1}, 200, b"[]", partition="p")
    assert archive.entries("p")[0]["params"] == {"page": 1}
    assert b"s3cret" not in (tmp_path / "raw/p/index.jsonl").read_bytes()


def test_endpoint_slug_folds_ids():
    assert endpoint_slug("GET", "/portfolio/F7654321/ledger") == "get-portfolio-acct-ledger"
    assert endpoint_slug("GET", "/trsrv/secdef?conids=1") == "get-trsrv-secdef"


def test_hook_fits_the_client_response_hook(tmp_path):
    archive = RawArchive(tmp_path)
    hook = archive.hook("2026-04-01")
    hook("GET", "/portfolio/accounts", None, None, 200, b"[]")
    assert [e["path"] for e in archive.entries("2026-04-01")] == ["/portfolio/accounts"]
