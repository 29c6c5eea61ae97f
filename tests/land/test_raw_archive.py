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


def test_the_request_body_is_indexed_without_credentials(tmp_path):
    archive = RawArchive(tmp_path)
    hook = archive.hook("p")
    hook("POST", "/pa/performance", {"t": "flex-token", "page": 0}, {"acctIds": ["U1"], "auth": {"token": "s3cret"}}, 200, b"{}")
    entry = archive.entries("p")[0]
    assert entry["body"] == {"acctIds": ["U1"]} and entry["params"] == {"page": 0}
    index = (tmp_path / "raw/p/index.jsonl").read_bytes()
    assert b"s3cret" not in index and b"flex-token" not in index


def test_index_lines_written_before_bodies_were_indexed_still_read(tmp_path):
    archive = RawArchive(tmp_path)
    archive.record("GET", "/portfolio/accounts", None, 200, b"[]", partition="p")
    old = '{"recorded_at":"2026-04-01T00:00:00+00:00","method":"GET","path":"/trsrv/secdef","params":{},"status":200,'
    old += '"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","bytes":2,"file":"x"}\n'
    with archive.index_path("p").open("a") as handle:
        handle.write(old)
    entries = archive.entries("p")
    assert entries[0]["body"] is None and "body" not in entries[1]
