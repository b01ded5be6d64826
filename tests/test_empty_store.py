"""An empty or blank store file is damage, not a new store: every reader and writer refuses it, through the
real `igor` and `igor-tick` and the service the TUI uses, and the file's bytes are left exactly as they were.

Before, a zero-length igor.json read as a brand-new store: `igor show` listed nothing, and the next `sub`
wrote a one-reservation document over it, double-booking every node of the vanished reservations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Cluster
from fault_rig import book, store_path, tick

from igor_tui.errors import StoreError
from igor_tui.service import build_service

BLANKS = pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "the file is empty"), (b"\n  \t\n", "the file holds only whitespace")],
    ids=["zero-length", "whitespace"],
)


def refusal(cluster: Cluster, why: str) -> str:
    return (
        f"igor: the igor store {store_path(cluster)} is corrupt ({why}); igor will not start over from an "
        "empty store: restore the file from a backup or move it aside\n"
    )


@BLANKS
def test_every_command_refuses_a_blank_store_and_leaves_it(
    cluster: Cluster, content: bytes, why: str
) -> None:
    book(cluster, running=1, future=1)
    path = store_path(cluster)
    path.write_bytes(content)
    attempts = [
        ("show",),
        ("show", "--json"),
        ("sub", "-r", "fresh", *cluster.boot, "-n", "1"),
        ("del", "run0"),
        ("extend", "-r", "run0"),
        ("history", "run0"),
        ("restore", "later0"),
    ]
    for args in attempts:
        proc = cluster.run(*args, user="root" if args[0] == "restore" else "alice")
        assert proc.returncode != 0, args
        assert proc.stderr == refusal(cluster, why), args
        assert proc.stdout == "", args
        assert path.read_bytes() == content, args
    proc = tick(cluster)
    assert proc.returncode != 0
    assert proc.stderr == refusal(cluster, why)
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".igor.json")) == []


@BLANKS
def test_the_tui_service_refuses_a_blank_store(cluster: Cluster, content: bytes, why: str) -> None:
    store_path(cluster).parent.mkdir(parents=True, exist_ok=True)
    store_path(cluster).write_bytes(content)
    svc = build_service(str(cluster.config_path), cluster.env())
    with pytest.raises(StoreError) as caught:
        svc.view()
    assert f"igor: {caught.value}\n" == refusal(cluster, why)
    with pytest.raises(StoreError):
        svc.past_reservations(datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))
    assert store_path(cluster).read_bytes() == content


def test_a_missing_store_is_the_only_new_store(cluster: Cluster) -> None:
    """Where no file exists a writer makes the store (here the first booking); readers never do."""
    path = store_path(cluster)
    assert not path.exists()
    assert cluster.run("show", check=0).stdout
    assert not path.exists()
    cluster.run("sub", "-r", "first", *cluster.boot, "-n", "1", check=0)
    assert path.stat().st_size > 0
