"""The trust boundary's own rules (igor_tui.trust), checked directly as root for a made-up principal.

The same rules are exercised end to end through real sudo in test_sudo_boundary.py; these pin each case
(directory search, group bits, symlinks, loops, FIFOs, a swapped name) without needing real users.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from igor_tui.content import ContentStore
from igor_tui.errors import ConfigError, ValidationError
from igor_tui.trust import Principal, open_as, principal, read_config

NOBODY = Principal("alice", 65534, frozenset({65534}))
"""A caller with no rights but "other" (uid/gid of nobody); named alice so messages read naturally."""
AS_ALICE = Principal("alice", 65534, frozenset({65534}), for_other=True)
ROOT = Principal("root", 0, frozenset({0}))


def put(path: Path, data: bytes, mode: int, uid: int = 0, gid: int = 0) -> Path:
    path.write_bytes(data)
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def read(who: Principal, path: Path | str, what: str = "kernel") -> bytes:
    fd = open_as(who, str(path), what)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def test_a_world_readable_file_is_read(public: Path) -> None:
    assert read(NOBODY, put(public / "vmlinuz", b"k", 0o644)) == b"k"


def test_an_unreadable_file_is_refused_in_one_sentence(public: Path) -> None:
    secret = put(public / "shadow", b"secret", 0o600)
    with pytest.raises(ValidationError) as info:
        read(NOBODY, secret)
    assert str(info.value) == f"kernel {secret}: permission denied: alice cannot read it"


def test_a_directory_without_search_permission_is_refused(public: Path) -> None:
    closed = public / "closed"
    closed.mkdir(mode=0o700)
    inner = put(closed / "vmlinuz", b"k", 0o644)
    with pytest.raises(ValidationError, match="permission denied: alice cannot read it"):
        read(NOBODY, inner, "initrd")


def test_owner_and_group_bits_count_for_the_caller(public: Path) -> None:
    mine = put(public / "mine", b"m", 0o400, uid=65534)
    assert read(NOBODY, mine) == b"m"
    grouped = put(public / "grouped", b"g", 0o640, gid=4242)
    with pytest.raises(ValidationError, match="permission denied"):
        read(NOBODY, grouped)
    member = Principal("alice", 65534, frozenset({65534, 4242}))
    assert read(member, grouped) == b"g"
    owner_denied = put(public / "owner-denied", b"o", 0o044, uid=65534)  # owner bits win, as in the kernel
    with pytest.raises(ValidationError, match="permission denied"):
        read(NOBODY, owner_denied)


def test_a_symlink_is_followed_under_the_same_rule(public: Path) -> None:
    secret = put(public / "shadow", b"secret", 0o600)
    fine = put(public / "vmlinuz", b"k", 0o644)
    (public / "to-secret").symlink_to(secret)
    (public / "to-fine").symlink_to("vmlinuz")
    with pytest.raises(ValidationError) as info:
        read(NOBODY, public / "to-secret")
    assert str(info.value) == f"kernel {public / 'to-secret'}: permission denied: alice cannot read it"
    assert read(NOBODY, public / "to-fine") == fine.read_bytes()
    assert read(ROOT, public / "to-secret") == b"secret"  # root reads anything


def test_a_symlink_into_a_closed_directory_is_refused(public: Path) -> None:
    closed = public / "closed"
    closed.mkdir(mode=0o700)
    put(closed / "vmlinuz", b"k", 0o644)
    (public / "link").symlink_to(closed / "vmlinuz")
    (public / "dirlink").symlink_to(closed)
    for path in (public / "link", public / "dirlink" / "vmlinuz"):
        with pytest.raises(ValidationError, match="permission denied"):
            read(NOBODY, path)


def test_symlink_loops_end(public: Path) -> None:
    (public / "a").symlink_to("b")
    (public / "b").symlink_to("a")
    with pytest.raises(ValidationError, match="too many levels of symbolic links"):
        read(NOBODY, public / "a")


def test_relative_paths_start_at_the_working_directory(public: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(public / "vmlinuz", b"k", 0o644)
    (public / "sub").mkdir(mode=0o755)
    monkeypatch.chdir(public / "sub")
    assert read(NOBODY, "../vmlinuz") == b"k"
    assert read(NOBODY, "./../sub/../vmlinuz") == b"k"


def test_refusals_of_what_is_not_a_file(public: Path) -> None:
    os.mkfifo(public / "fifo", 0o666)
    with pytest.raises(ValidationError, match="not a regular file"):
        read(NOBODY, public / "fifo")  # never blocks: checked before any open for reading
    with pytest.raises(ValidationError, match="a directory"):
        read(NOBODY, public)
    with pytest.raises(ValidationError, match="no such file"):
        read(NOBODY, public / "missing")
    put(public / "file", b"x", 0o644)
    with pytest.raises(ValidationError, match="not a directory"):
        read(NOBODY, public / "file" / "x")


def test_the_content_store_publishes_nothing_the_caller_cannot_read(public: Path) -> None:
    secret = put(public / "shadow", b"switch password", 0o600)
    store = ContentStore(str(public / "content"))
    with pytest.raises(ValidationError, match="permission denied: alice cannot read it"):
        store.add(str(secret), "kernel", NOBODY)
    with pytest.raises(ValidationError, match="permission denied: alice cannot read it"):
        store.check(str(secret), "initrd", NOBODY)
    assert not (public / "content").exists() or not os.listdir(public / "content")
    assert store.check(str(secret), "kernel", ROOT) == len(b"switch password")


def test_a_symlink_swapped_in_a_loop_never_leaks_the_unreadable_file(public: Path) -> None:
    put(public / "shadow", b"SECRET", 0o600)
    put(public / "vmlinuz", b"kernel", 0o644)
    link = public / "k"
    link.symlink_to("vmlinuz")
    stop = threading.Event()

    def swap() -> None:
        targets = ("shadow", "vmlinuz")
        i = 0
        while not stop.is_set():
            tmp = public / f"k.{i}"
            tmp.symlink_to(targets[i % 2])
            os.replace(tmp, link)
            i += 1

    thread = threading.Thread(target=swap)
    thread.start()
    seen: dict[str, int] = {"read": 0, "refused": 0}
    try:
        for _ in range(400):
            try:
                data = read(NOBODY, link)
            except ValidationError as err:
                assert "permission denied: alice cannot read it" in str(err), err
                seen["refused"] += 1
            else:
                assert data == b"kernel"
                seen["read"] += 1
    finally:
        stop.set()
        thread.join()
    assert seen["read"] + seen["refused"] == 400


# ---------------------------------------------------------------------------------------- the config


def config_file(public: Path, mode: int, uid: int = 0) -> Path:
    data = {"tftproot": "/srv/tftp", "prefix": "kn", "start": 1, "end": 4}
    return put(public / "igor.conf", json.dumps(data).encode(), mode, uid=uid)


@pytest.mark.parametrize(
    ("mode", "uid"), [(0o644, 0), (0o640, 0), (0o604, 0), (0o600, 65534), (0o400, 65534)]
)
def test_acting_for_a_user_a_config_they_could_have_made_or_read_is_refused(
    public: Path, mode: int, uid: int
) -> None:
    path = config_file(public, mode, uid)
    owner = "root" if uid == 0 else "nobody"
    with pytest.raises(ConfigError) as info:
        read_config(str(path), AS_ALICE)
    assert str(info.value) == (
        f"config {path} refused: igor acts for alice here, so its config must be owned by root or igor "
        f"with mode 0600 or 0400 (it is owned by {owner}, mode {mode:04o})"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_acting_for_a_user_a_private_root_config_is_read(public: Path, mode: int) -> None:
    raw, st = read_config(str(config_file(public, mode)), AS_ALICE)
    assert json.loads(raw)["prefix"] == "kn"
    assert stat.S_IMODE(st.st_mode) == mode


def test_acting_for_a_user_a_symlinked_config_is_refused(public: Path) -> None:
    config_file(public, 0o600)
    (public / "link.conf").symlink_to(public / "igor.conf")
    with pytest.raises(ConfigError, match="refused: it is a symbolic link"):
        read_config(str(public / "link.conf"), AS_ALICE)
    assert read_config(str(public / "link.conf"), ROOT)[0]  # igor's own account may use a link


def test_a_fifo_config_never_blocks(public: Path) -> None:
    os.mkfifo(public / "fifo.conf", 0o600)
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_config(str(public / "fifo.conf"), AS_ALICE)


def test_without_sudo_only_writable_configs_are_refused(public: Path) -> None:
    assert read_config(str(config_file(public, 0o644, 65534)), NOBODY)[0]
    with pytest.raises(ConfigError, match="group-writable"):
        read_config(str(config_file(public, 0o664)), NOBODY)


def test_who_igor_acts_for() -> None:
    daemon = principal({"SUDO_USER": "daemon"}, frozenset({0}), euid=0)
    assert (daemon.name, daemon.uid, daemon.for_other) == ("daemon", 1, True)
    assert 1 in daemon.gids  # the primary group, through getgrouplist
    assert principal({"SUDO_USER": "root"}, frozenset({0}), euid=0).for_other is False
    untrusted = principal({"SUDO_USER": "daemon"}, frozenset({0}), euid=65534)
    assert (untrusted.name, untrusted.for_other) == ("nobody", False)
    ghost = principal({"SUDO_USER": "no-such-user-here"}, frozenset({0}), euid=0)
    assert (ghost.name, ghost.for_other) == ("no-such-user-here", False)


@pytest.mark.parametrize("form", [("--config", "{p}"), ("--config={p}",), ("-config", "{p}")])
def test_igor_tick_takes_the_config_option_like_igor(tmp_path: Path, form: tuple[str, ...]) -> None:
    """cron and the security suite run `igor-tick --config PATH`: the option must reach the config check."""
    import subprocess
    import sys

    loose = config_file_at(tmp_path / "loose.conf", 0o666)
    tick = str(Path(sys.executable).parent / "igor-tick")
    argv = [tick, *(part.format(p=loose) for part in form), "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"igor: config {loose} refused: it is world-writable (mode 0666)")


def config_file_at(path: Path, mode: int) -> Path:
    path.write_text(json.dumps({"tftproot": "/srv/tftp", "prefix": "kn", "start": 1, "end": 4}))
    path.chmod(mode)
    return path
