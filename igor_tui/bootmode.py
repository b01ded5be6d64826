"""Which firmware each node boots with (igor.conf `bootmode`): legacy BIOS (PXELINUX) or UEFI (GRUB).

Pure: no I/O, so config validation and the tests share it. A site with one kind of node writes a string
("bios", the default, or "uefi"); a mixed cluster writes a map from node ranges to modes, e.g.
{"kn[1-64]": "uefi", "kn[65-520]": "bios"}. Nodes the map does not name boot BIOS, as before the key
existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import ValidationError

if TYPE_CHECKING:
    from .hostlist import NodeNaming

BIOS = "bios"
UEFI = "uefi"
BOOT_MODES = (BIOS, UEFI)
DESCRIPTION = (
    "'bios' (default), 'uefi', or an object mapping node ranges to modes, e.g. "
    "{'kn[1-64]': 'uefi', 'kn[65-520]': 'bios'}"
)


def parse_bootmode(
    value: object, naming: NodeNaming | None, key: str = "bootmode"
) -> tuple[dict[str, str], list[str]]:
    """The nodes that do not boot BIOS (node -> mode) and every problem found, each naming the key and value.

    Only non-BIOS nodes are kept, so the common all-BIOS cluster costs nothing and a node absent from the
    result boots BIOS. Overlapping ranges are refused even when they agree: an admin who changes one of
    them later would get whichever the file order picks, silently.
    """
    problems: list[str] = []
    if isinstance(value, str):
        if value not in BOOT_MODES:
            problems.append(f"{key}: {value!r} is not a boot mode; expected {DESCRIPTION}")
            return {}, problems
        if value == UEFI and naming is not None:
            return dict.fromkeys(naming.all(), UEFI), problems
        return {}, problems
    if not isinstance(value, Mapping):
        return {}, [f"{key}: expected {DESCRIPTION}, got {value!r}"]
    modes: dict[str, str] = {}
    owner: dict[str, str] = {}  # node -> the range that named it, for the overlap message
    for spec, mode in value.items():
        where = f"{key}[{spec!r}]"
        if not isinstance(mode, str) or mode not in BOOT_MODES:
            problems.append(f"{where}: {mode!r} is not a boot mode; expected 'bios' or 'uefi'")
            continue
        if not isinstance(spec, str) or naming is None:
            continue  # without a valid node naming the ranges cannot be checked (already reported)
        try:
            nodes = naming.expand(spec)
        except ValidationError as err:
            problems.append(f"{where}: {err}")
            continue
        clash = [n for n in nodes if n in owner]
        if clash:
            problems.append(
                f"{where}: overlaps {owner[clash[0]]!r} on {naming.compress(clash)}; "
                "each node may be named once"
            )
            continue
        for node in nodes:
            owner[node] = spec
            if mode != BIOS:
                modes[node] = mode
    return modes, problems
