"""The contracts between igor-tick and the systems it drives: boot, power, switch and liveness.

Each role is a small Protocol with a real implementation (pxe/cobbler, command/ssh, arista, tcp/ping) and a
recording fake (fake.py) for tests, the demo and `--dry-run`. Backends never touch the store: igor-tick
plans under the store lock, releases it, calls a backend, then records the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import NodeState
from ..typenames import TYPE_CHECKING, Any, Protocol
from ..values import dataclass

if TYPE_CHECKING:
    from typing import Literal

    PowerAction = Literal["on", "off", "cycle"]
else:
    PowerAction = str  # only ever an annotation: no `typing` at run time (see typenames.py)


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """A node and what igor knows of its network identity (from the `hosts` map or DNS); "" = unknown."""

    name: str
    ip: str = ""
    mac: str = ""  # lower-case, colon separated: 52:54:00:00:00:01


@dataclass(frozen=True, slots=True)
class BootSpec:
    """Everything a boot backend needs to make a reservation's nodes boot it (no store access needed).

    `kernel_path`/`initrd_path` are absolute paths of igor's content-addressed copies (empty when booting a
    Cobbler `profile`). `key` is unique per reservation install (e.g. "r12") and safe for file and Cobbler
    object names; `label` is the reservation name for human-facing labels.
    """

    key: str
    label: str
    nodes: tuple[NodeAddress, ...]
    kernel_path: str = ""
    initrd_path: str = ""
    kernel_args: str = ""
    profile: str = ""


BootRecord = dict[str, Any]  # JSON-serialisable: exactly what `install` created, handed back to `uninstall`


class BootBackend(Protocol):
    """Makes nodes network-boot a reservation, and undoes exactly that."""

    def install(self, spec: BootSpec) -> BootRecord:
        """Make `spec.nodes` boot `spec`. Idempotent (re-installing the same spec is fine). On failure raise
        BackendError naming the node and the step, after removing anything this call created, so a failed
        install never leaks. Returns a JSON record of what was created, for `uninstall`."""
        ...

    def uninstall(self, record: BootRecord) -> None:
        """Remove exactly what `install` created (never another reservation's files or objects).
        Idempotent: already-removed things are fine. Raise BackendError on a real failure."""
        ...

    def record_for(self, spec: BootSpec) -> BootRecord:
        """The record `install(spec)` would return, computed without changing anything, so an install
        whose outcome was never recorded (crash, failure) can still be undone exactly."""
        ...


class PowerBackend(Protocol):
    """Switches nodes on, off, or power-cycles them."""

    def power(self, nodes: Sequence[str], action: PowerAction) -> None:
        """Apply `action` to every node (in parallel within the configured limit, with retries). Raise
        BackendError listing each failed node with its command and exit status; never a secret."""
        ...


class SwitchBackend(Protocol):
    """Puts switch ports into a reservation's VLAN and back."""

    def set_vlan(self, ports: Sequence[str], vlan: int) -> None:
        """Put every port into `vlan` (one request for all ports where the switch allows). Idempotent."""
        ...

    def clear(self, ports: Sequence[str]) -> None:
        """Return the ports to their unreserved state. Idempotent."""
        ...

    def port_vlans(self, ports: Sequence[str]) -> Mapping[str, int | None]:
        """The switch's actual VLAN per port (None = not in a reservation VLAN), for `igor sync`."""
        ...


@dataclass(frozen=True, slots=True)
class Backends:
    """The real (or fake) systems igor drives; None = not configured."""

    boot: BootBackend
    power: PowerBackend | None = None
    switch: SwitchBackend | None = None
    liveness: Liveness | None = None


class Liveness(Protocol):
    """Tells which nodes are up, without ever blocking a user command (only igor-tick calls it)."""

    def probe(self, nodes: Sequence[NodeAddress]) -> Mapping[str, NodeState]:
        """Probe all nodes concurrently with a short timeout; UNKNOWN where no address is known."""
        ...
