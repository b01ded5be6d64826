"""Frozen value types shared by the scheduler, store, service and all front ends (no I/O, no UI imports)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

from .values import dataclass, field


def floor_minute(when: datetime) -> datetime:
    """Whole minutes are igor's resolution; flooring keeps "now" inside the current minute."""
    return when.astimezone(UTC).replace(second=0, microsecond=0)


class NodeState(enum.Enum):
    """Health as last observed by a liveness probe; UNKNOWN until one has run."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """The last liveness observation of one node (written by igor-tick, read by show and the TUI)."""

    name: str
    state: NodeState = NodeState.UNKNOWN
    checked: datetime | None = None
    detail: str = ""


POLICY_BY = "policy"
"""`Block.by` of a host policy's window instance (policy.py makes them), so the scheduler's sentences
and the front ends can tell it from an admin's maintenance block."""


@dataclass(frozen=True, slots=True)
class Block:
    """A maintenance window: the scheduler never places a reservation on these nodes inside it."""

    id: int
    nodes: tuple[str, ...]
    start: datetime
    end: datetime | None  # None = until unblocked
    reason: str = ""
    by: str = ""

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and (self.end is None or start < self.end)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named set of host rules (igor2's policies), applied to `nodes`; a node is under at most one.

    `groups` (empty = anyone) may book the nodes, for at most `maxtime` minutes (0 = no cap);
    `unavailable` holds igor2's "CRON:DURATION" windows as typed (policy.py reads them), during which
    nobody may have the nodes. A node under no policy is under the default: no restriction."""

    id: int
    name: str
    nodes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    maxtime: int = 0
    unavailable: tuple[str, ...] = ()
    by: str = ""


@dataclass(frozen=True, slots=True)
class Reservation:
    """One booking of nodes for the half-open window [start, end), all times aware UTC on whole minutes.

    `kernel`/`initrd` keep the paths the user gave (for display); the hashes name the content-addressed
    copies igor boots from. `revision` grows on every edit so igor-tick can tell an installed
    configuration is stale (a `desc` change is not: it boots nothing). `installed`/`error` are written only
    by igor-tick.
    """

    id: int
    name: str
    owner: str
    start: datetime
    end: datetime
    nodes: tuple[str, ...]
    group: str = ""
    kernel: str = ""
    initrd: str = ""
    kernel_hash: str = ""
    initrd_hash: str = ""
    profile: str = ""
    kernel_args: str = ""
    vlan: int | None = None
    created: datetime | None = None
    revision: int = 1
    extensions: int = 0
    installed: bool = False
    error: str = ""
    desc: str = ""  # the owner's note (`-desc`), one printable line; never read by igor itself
    healed: tuple[str, ...] = ()  # "kn7 (down) -> kn12", one per swap igor-tick made (heal: true)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def is_active(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True, slots=True)
class Request:
    """What the scheduler is asked for: either `count` nodes or exactly `nodes`, for `minutes`, not before
    `earliest`. `contiguous` demands one block of consecutive node numbers (classic behaviour)."""

    minutes: int
    earliest: datetime
    count: int = 0
    nodes: tuple[str, ...] = ()
    contiguous: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable placement: start/end, the nodes igor would pick, and how many usable nodes are free for
    the whole window (so a user can judge how crowded it is)."""

    start: datetime
    end: datetime
    nodes: tuple[str, ...]
    free: int


@dataclass(frozen=True, slots=True)
class Limits:
    """Site policy for non-admins, in minutes and nodes; 0 means unlimited (as in classic igor)."""

    nodelimit: int = 0
    timelimit: int = 0
    extendwithin: int = 0


@dataclass(frozen=True, slots=True)
class ClusterView:
    """An immutable snapshot of everything a front end draws: taken at `now` for user `user`."""

    now: datetime
    user: str
    is_admin: bool
    nodes: tuple[str, ...]
    reservations: tuple[Reservation, ...]
    blocks: tuple[Block, ...] = ()
    status: dict[str, NodeStatus] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()
    windows: tuple[Block, ...] = ()  # host-policy window instances near `now`, drawn like blocks


class InstallStage(enum.StrEnum):
    """The step igor-tick had begun but not recorded as done (`Install.pending`); a StrEnum so the stored
    documents keep the plain strings they always held ("" when no step is under way)."""

    NONE = ""
    VLAN = "vlan"
    BOOT = "boot"
    POWER = "power"


@dataclass(frozen=True, slots=True)
class Install:
    """What igor-tick has done on real systems for one reservation, recorded step by step.

    Written before a step starts (`pending`) and after it finished, so a tick killed at any instant
    leaves enough to complete or undo the step on the next run: nothing is ever leaked.
    `boot` is the backend's record of exactly what it created; `vlan`/`ports` what the switch holds.
    Nodes added to a running reservation are `growing` until their setup completes, so a crash half-way
    through still leaves every node the install may have touched on the record.
    """

    res_id: int
    name: str
    revision: int = 0
    nodes: tuple[str, ...] = ()
    vlan: int | None = None
    ports: tuple[str, ...] = ()
    network: bool = False
    boot: dict[str, object] | None = None
    powered: bool = False
    complete: bool = False
    pending: InstallStage = InstallStage.NONE
    error: str = ""
    failures: int = 0
    retry_at: datetime | None = None
    growing: tuple[str, ...] = ()  # nodes added to a running install whose setup began but is not complete
    boot_key: str = ""  # what the boot files hold (see tickplan.boot_key); "" in records older than it
