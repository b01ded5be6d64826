"""The content store's digest cache (content.DigestCache): a file booked again unchanged is not hashed
again, and nothing else ever skips the hash.

Each test that expects a hash makes hashlib.sha256 count its calls; a cache hit is a booking that made
none. Run as root (like test_trust.py) so a made-up principal can be refused a file.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from igor_tui import content
from igor_tui.content import DIGEST_CACHE, DIGEST_CACHE_ENTRIES, ContentStore
from igor_tui.errors import ValidationError
from igor_tui.trust import Principal

NOBODY = Principal("alice", 65534, frozenset({65534}))
OLD_ENOUGH = content.RACY_NS / 1e9 + 0.1
"""Seconds a file's ctime must age before its digest may be recorded (git's racily-clean rule)."""
REAL_SHA256 = hashlib.sha256
"""The test's own hashing, which the `hashes` fixture must not count."""


@pytest.fixture
def recordable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as old enough to record (no sleeping), for tests whose subject is not the racy
    rule and that edit nothing afterwards."""
    monkeypatch.setattr(content, "RACY_NS", -(10**12))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per sha256 object made: a booking that reads the file appends one."""
    made: list[int] = []

    def counting(*args: bytes) -> hashlib._Hash:
        made.append(1)
        return REAL_SHA256(*args)

    monkeypatch.setattr(hashlib, "sha256", counting)
    return made


def store(public: Path) -> ContentStore:
    state = public / "state"
    state.mkdir(exist_ok=True)
    return ContentStore(str(public / "content"), lock_dir=str(state))


def kernel(public: Path, data: bytes, name: str = "vmlinuz") -> Path:
    path = public / name
    path.write_bytes(data)
    path.chmod(0o644)
    return path


def sha(data: bytes) -> str:
    return REAL_SHA256(data).hexdigest()


def booked_twice(cs: ContentStore, path: Path, hashes: list[int]) -> int:
    """Book `path` twice; how many of the two hashed it."""
    before = len(hashes)
    first = cs.add(str(path), "kernel")
    assert cs.add(str(path), "kernel") == first
    return len(hashes) - before


def test_an_unchanged_old_file_is_hashed_once(public: Path, hashes: list[int]) -> None:
    cs = store(public)
    path = kernel(public, b"kernel one")
    time.sleep(OLD_ENOUGH)
    assert booked_twice(cs, path, hashes) == 1
    assert cs.add(str(path), "kernel") == sha(b"kernel one")
    assert (public / "state" / DIGEST_CACHE).stat().st_mode & 0o777 == 0o600


def test_a_file_changed_within_the_last_second_is_not_recorded(public: Path, hashes: list[int]) -> None:
    """Timestamps are coarse: an edit in the same tick as the booking would leave the stat as it was. So a
    file whose ctime is not ~1 s older than the moment reading began is never recorded, and an edit
    right after the booking, same size and mtime put back, is read again."""
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    assert booked_twice(cs, path, hashes) == 2
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"kernel BBB")
    os.utime(path, ns=(mtime, mtime))
    assert cs.add(str(path), "kernel") == sha(b"kernel BBB")


def test_an_edited_file_is_hashed_again_even_within_the_same_second(public: Path, hashes: list[int]) -> None:
    """Recorded, then edited in place (same size, same mtime put back with utime): the edit moved ctime,
    which no user can set, so the stat no longer matches and the new bytes are read."""
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    time.sleep(OLD_ENOUGH)
    assert booked_twice(cs, path, hashes) == 1
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"kernel BBB")
    os.utime(path, ns=(mtime, mtime))
    before = len(hashes)
    assert cs.add(str(path), "kernel") == sha(b"kernel BBB")
    assert len(hashes) == before + 1
    assert os.path.isfile(cs.path(sha(b"kernel BBB")))


def test_a_replaced_file_with_the_same_size_and_mtime_is_hashed_again(
    public: Path, hashes: list[int]
) -> None:
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    time.sleep(OLD_ENOUGH)
    assert booked_twice(cs, path, hashes) == 1
    mtime = path.stat().st_mtime_ns
    other = kernel(public, b"kernel CCC", "new")
    os.utime(other, ns=(mtime, mtime))
    os.replace(other, path)
    assert cs.add(str(path), "kernel") == sha(b"kernel CCC")


def test_a_file_the_caller_cannot_read_is_refused_even_if_cached(
    public: Path, hashes: list[int], recordable: None
) -> None:
    """The caller's right to read is checked before the cache is looked at: a recorded file whose
    directory was closed to them (its own stat unchanged) is refused, not served from the cache."""
    cs = store(public)
    private = public / "private"
    private.mkdir(mode=0o755)
    path = kernel(private, b"kernel AAA")
    assert cs.add(str(path), "kernel", NOBODY) == sha(b"kernel AAA")
    assert booked_twice(cs, path, hashes) == 0  # recorded
    private.chmod(0o700)
    with pytest.raises(ValidationError, match="permission denied: alice cannot read it"):
        cs.add(str(path), "kernel", NOBODY)


def test_a_collected_copy_is_copied_again(public: Path, hashes: list[int], recordable: None) -> None:
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    digest = cs.add(str(path), "kernel")
    assert cs.collect([]) == [digest]
    before = len(hashes)
    assert cs.add(str(path), "kernel") == digest
    assert len(hashes) == before + 1
    assert (Path(cs.path(digest))).read_bytes() == b"kernel AAA"


def _spoil(cache: Path, how: str) -> None:
    if how == "torn":
        cache.write_bytes(cache.read_bytes()[:-9])
    elif how == "world-writable":
        cache.chmod(0o666)
    elif how == "other owner":
        os.chown(cache, 65534, 65534)
    elif how == "symlink":
        real = cache.with_name("elsewhere")
        os.replace(cache, real)
        cache.symlink_to(real)
    elif how == "bad digest":
        text = cache.read_text()
        cache.write_text(text.replace(text.split("\n")[1].split()[-1], "f" * 63 + "g"))


@pytest.mark.parametrize("how", ["torn", "world-writable", "other owner", "symlink", "bad digest"])
def test_any_doubt_about_the_cache_means_hashing(
    public: Path, hashes: list[int], how: str, recordable: None
) -> None:
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    assert booked_twice(cs, path, hashes) == 1
    _spoil(public / "state" / DIGEST_CACHE, how)
    before = len(hashes)
    assert cs.add(str(path), "kernel") == sha(b"kernel AAA")
    assert len(hashes) == before + 1


def test_the_cache_is_bounded(public: Path, hashes: list[int], recordable: None) -> None:
    cs = store(public)
    paths = [kernel(public, f"kernel {i}".encode(), f"k{i}") for i in range(DIGEST_CACHE_ENTRIES + 6)]
    for path in paths:
        cs.add(str(path), "kernel")
    lines = (public / "state" / DIGEST_CACHE).read_text().splitlines()
    assert len(lines) == DIGEST_CACHE_ENTRIES + 2  # a header, the entries, an end line
    assert booked_twice(cs, paths[-1], hashes) == 0  # the newest are kept
    assert booked_twice(cs, paths[0], hashes) == 1  # the oldest went first
    assert not [n for n in os.listdir(public / "state") if n.startswith(f".{DIGEST_CACHE}.")]  # no temps


def test_check_neither_hashes_nor_records(public: Path, hashes: list[int]) -> None:
    """check() (the TUI's "✓ 14.2 MB") reads no content and writes no cache."""
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    assert cs.check(str(path), "kernel") == len(b"kernel AAA")
    assert hashes == []
    assert not (public / "state" / DIGEST_CACHE).exists()


def test_a_cache_another_account_wrote_is_replaced_by_ours(
    public: Path, hashes: list[int], recordable: None
) -> None:
    """A cache another account wrote (root running igor by hand) is not trusted: the next hash writes
    ours over it, and ours serves."""
    cs = store(public)
    path = kernel(public, b"kernel AAA")
    cs.add(str(path), "kernel")
    state = public / "state"
    os.chown(state / DIGEST_CACHE, 65534, 65534)
    assert booked_twice(cs, path, hashes) == 1
    assert (state / DIGEST_CACHE).stat().st_uid == os.geteuid()
