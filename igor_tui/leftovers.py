"""Crash leftovers, removed by the next igor-tick that holds the locks, whatever their age.

Each kind is safe to remove only under the lock its writers hold while the file exists:
- `.igor.json.*` store temps: written only by a writer holding the store lock (taken here);
- `.<name>.*.tmp` PXE temps and `tick.last.tmp` / `tick.clock.tmp`: written only by igor-tick itself,
  inside the single-runner tick.lock this tick holds;
- `.incoming.*` copies: an `igor sub` copies a kernel *before* it takes the store lock, so the store lock
  says nothing about it; every copier holds `.copying.lock` shared while its temp exists, and the sweep
  removes them only when it gets that lock exclusively (otherwise it waits for the next tick);
- kernel/initrd copies no reservation references: collected by the tick inside its first store
  transaction (under the store lock, without a second read of the store); a booking that copied one just
  before re-checks it under the lock and copies it again (`IgorService._ensure_content`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from .tempfiles import is_dot_tmp, remove_files
from .typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from .content import ContentStore
    from .store import ReservationStore


def sweep(
    store: ReservationStore, content: ContentStore, pxe_dir: str, tick_temps: Iterable[str]
) -> list[str]:
    """Remove every leftover; returns what was removed (names), for the tick's report."""
    removed = list(store.sweep_leftovers())
    if pxe_dir:
        removed += _pxe_temps(pxe_dir)
    for path in tick_temps:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed.append(os.path.basename(path))
    removed += content.sweep_incoming()
    return removed


def _pxe_temps(cfg: str) -> list[str]:
    """`.<name>.<random>.tmp`: the atomic writes of a tick that was killed (only ticks write here)."""
    return remove_files(cfg, is_dot_tmp)
