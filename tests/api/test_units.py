"""Pure pieces of the API layer: masking, cursors, key hashing, the audit trail, job records."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from quanzi.api.services.access import (
    Principal,
    mask_email,
    mask_field,
    mask_identity_id,
    mask_phone,
    mask_properties,
)
from quanzi.api.services.audit import AuditLog
from quanzi.api.services.cursor import decode_cursor, encode_cursor
from quanzi.api.services.jobs import JobManager
from quanzi.api.services.keys import KeyRing, hash_key
from quanzi.errors import ConflictError, InputError, NotFoundError


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+8613800138000", "+86 138****8000"),
        ("+14155550134", "+1 4155****"),
        ("+6591234567", "+65 9123****"),
        ("not a phone 1234", "1****"),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_other_fields() -> None:
    assert mask_email("Li.Na@Example.com") == "L***@Example.com"
    assert mask_field("id_number", "11010519491231002X") == "110*************2X"
    assert mask_field("name", "张伟") == "张伟"
    assert mask_field("phone", None) is None
    assert (
        mask_identity_id("wechat_unionid:oqu_pP-1fJLus8cVkT4JdaSAZqww") == "wechat_unionid:oqu_****"
    )
    props = mask_properties(
        {"id": "phone:+8613800138000", "kind": "phone", "key": "+8613800138000"}
    )
    assert props == {"id": "phone:+86 138****8000", "kind": "phone", "key": "+86 138****8000"}


def test_roles_are_ordered() -> None:
    sales = Principal("k", "sales", "x", "E1")
    assert sales.allows("viewer")
    assert sales.allows("sales")
    assert not sales.allows("admin")
    assert sales.actor == "E1"
    assert Principal("k", "viewer", "x").actor == "k"


def test_cursor_round_trip_and_refusals() -> None:
    cursor = encode_cursor("-churn_risk", 0.82, "c1")
    assert decode_cursor(cursor, "-churn_risk") == (0.82, "c1")
    with pytest.raises(InputError, match="sort"):
        decode_cursor(cursor, "name")
    for bad in ("", "!!!", "eyJ4IjoxfQ"):
        with pytest.raises(InputError, match="cursor"):
            decode_cursor(bad, "name")
    # A forged cursor whose id is no text is damaged, whatever sort it names.
    forged = base64.urlsafe_b64encode(json.dumps({"k": "a", "i": 5, "s": "name"}).encode())
    with pytest.raises(InputError, match="damaged"):
        decode_cursor(forged.decode(), "name")


def test_key_ring(tmp_path: Path) -> None:
    ring = KeyRing({SecretStr("boot"): "admin"}, tmp_path)
    assert ring.authenticate("boot") == Principal(
        f"env-{hash_key('boot')[:8]}", "admin", "QUANZI_API_KEYS (admin)"
    )
    assert ring.authenticate("nope") is None
    key, record = ring.create("Li", "sales", employee_id="E1", created_by="test")
    assert "boot" not in (tmp_path / "keys.json").read_text()
    assert key not in (tmp_path / "keys.json").read_text()
    principal = ring.authenticate(key)
    assert principal is not None
    assert principal.employee_id == "E1"
    # Another process (a second ring on the same folder) sees the key and its revocation.
    other = KeyRing({}, tmp_path)
    assert other.authenticate(key) is not None
    other.revoke(record.id)
    time.sleep(0.01)
    assert ring.authenticate(key) is None
    with pytest.raises(ConflictError):
        ring.revoke(ring.records()[0].id)
    with pytest.raises(NotFoundError):
        ring.revoke("key_missing")


def test_audit_log_search(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record(
        key_id="k1",
        role="admin",
        method="GET",
        route="/customers/{customer_id}",
        status=200,
        path_params={"customer_id": "c1"},
    )
    log.record(
        key_id="k2",
        role="viewer",
        method="GET",
        route="/customers",
        status=200,
        query={"name": "张\u2028伟", "limit": "5"},
    )
    newest = log.search()
    assert [e.key_id for e in newest] == ["k2", "k1"]
    assert newest[0].query == {"name": "<redacted>", "limit": "5"}
    assert [e.key_id for e in log.search(customer_id="c1")] == ["k1"]
    assert [e.key_id for e in log.search(key_id="k2")] == ["k2"]
    assert log.search(before=newest[-1].at) == []


def test_audit_trail_moves_to_a_new_file_when_full_and_searches_them_all(
    tmp_path: Path,
) -> None:
    # Two logs on one folder: two worker processes sharing the trail.
    first = AuditLog(tmp_path / "audit.jsonl", max_bytes=4096)
    second = AuditLog(tmp_path / "audit.jsonl", max_bytes=4096)
    for i in range(300):
        (first if i % 2 else second).record(
            key_id=f"k{i}",
            role="admin",
            method="GET",
            route="/customers/{customer_id}",
            status=200,
            path_params={"customer_id": f"c{i % 7}"},
        )
    files = first.files()
    assert len(files) > 10, "the trail was closed and restarted many times"
    assert all(p.stat().st_size < 4096 + 400 for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)
    everything = first.search(limit=1000)
    assert [e.key_id for e in everything] == [f"k{i}" for i in reversed(range(300))]
    # conditions and paging work across files
    assert [e.key_id for e in second.search(limit=3)] == ["k299", "k298", "k297"]
    page = first.search(before=everything[149].at, limit=1000)
    assert [e.key_id for e in page] == [e.key_id for e in everything[150:]]
    assert [e.key_id for e in first.search(since=everything[9].at, limit=1000)] == [
        e.key_id for e in everything[:10]
    ]
    oldest = first.search(customer_id="c0", limit=1000)
    assert [e.key_id for e in oldest][-1] == "k0", "found in the first, closed file"
    # an operator compresses a closed file: it is no longer read, and nothing breaks
    archived = files[-1]
    archived.rename(archived.with_name(archived.name + ".gz"))
    archived.with_name(archived.name + ".gz").write_bytes(b"\x1f\x8b\x08\xff\xfe")
    assert len(first.search(limit=1000)) < 300
    assert first.search(limit=1)[0].key_id == "k299"


def test_audit_trail_keeps_the_newest_closed_files_when_told(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=4096, keep_files=3)
    for i in range(300):
        log.record(key_id=f"k{i}", role="admin", method="GET", route="/tags", status=200)
    files = log.files()
    assert len(files) == 4, "the open file and the three newest closed ones"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".lock") == sorted(
        p.name for p in files
    )
    kept = log.search(limit=1000)
    assert kept[0].key_id == "k299"
    assert [e.key_id for e in kept] == [f"k{i}" for i in range(299, 299 - len(kept), -1)]


def test_audit_trail_deletes_what_is_older_than_the_days_kept(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=4096, keep_days=30)
    for i in range(100):
        log.record(key_id=f"k{i}", role="admin", method="GET", route="/tags", status=200)
    closed = log.files()[1:]
    assert closed, "the trail was closed at least once"
    now = datetime.now(UTC)
    # Nothing is 30 days old yet: nothing goes, and the open file stays open.
    assert log.expire(now) == []
    assert log.files()[1:] == closed
    # 31 days on: the open file's first entry is too old, so it is closed now (and kept:
    # closed today) and every file closed before is deleted.
    later = now + timedelta(days=31)
    assert sorted(log.expire(later)) == sorted(closed)
    assert not (tmp_path / "audit.jsonl").exists()
    (kept,) = log.files()[1:]
    assert kept.name.endswith(later.strftime("%Y%m%dT%H%M%S%fZ"))
    assert log.search(limit=1)[0].key_id == "k99"
    # 62 days on, it goes too; new entries start a new file.
    assert log.expire(now + timedelta(days=62)) == [kept]
    log.record(key_id="k100", role="admin", method="GET", route="/tags", status=200)
    assert [e.key_id for e in log.search()] == ["k100"]
    # Without keep_days nothing is deleted.
    assert AuditLog(tmp_path / "audit.jsonl").expire(now + timedelta(days=999)) == []


def test_audit_search_skips_a_line_cut_short(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record(key_id="k1", role="admin", method="GET", route="/tags", status=200)
    with (tmp_path / "audit.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"at": "2026-01-01T00:00:00Z", "key_id": "k')  # a crash mid-write
    log.record(key_id="k2", role="admin", method="GET", route="/tags", status=200)
    # the cut entry is lost; the entries before and after it are not
    assert [e.key_id for e in log.search()] == ["k2", "k1"]


def test_jobs_run_and_interrupted_ones_are_marked(tmp_path: Path) -> None:
    manager = JobManager(tmp_path)
    job = manager.submit("test", lambda _: ({"done": True}, 0), owner="k", params={"n": 1})
    manager.shutdown()
    finished = manager.get(job.id)
    assert finished.status == "succeeded"
    assert finished.result == {"done": True}
    assert [j.id for j in manager.list()] == [job.id]
    with pytest.raises(NotFoundError):
        manager.get("job_000000000000")
    # A job left "running" by a process that is gone is marked interrupted at start-up;
    # one whose process still runs (another worker) is left alone.
    finished.status, finished.pid = "running", 2**22 + 12345
    manager.save(finished)
    assert JobManager(tmp_path).get(job.id).status == "interrupted"
    finished.status, finished.pid = "running", os.getpid()
    manager.save(finished)
    assert JobManager(tmp_path).get(job.id).status == "running"
