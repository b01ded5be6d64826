"""`igor show` (racks, reservation table, install errors) and `igor sub -s` as text, and the show JSON:
the hot path of the CLI, so rich is imported only when colour is actually drawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from operator import attrgetter

from ..model import ClusterView, NodeState, Reservation, Slot
from ..terminal import terminal_columns
from ..typenames import TYPE_CHECKING
from ..values import dataclass
from . import columns, nodes_text, printable, zone_note

if TYPE_CHECKING:
    from typing import IO, Any

    from ..hostlist import NodeNaming

KEYS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
OVERFLOW_KEY = "+"
DOWN_GLYPH = "!"
BLOCKED_GLYPH = "#"
# One background per reservation, cycling; foregrounds chosen for contrast (classic igor's palette idea).
PALETTE = (
    "white on green",
    "white on blue",
    "white on magenta",
    "black on cyan",
    "black on yellow",
    "black on bright_green",
    "black on bright_blue",
    "black on bright_magenta",
    "black on bright_cyan",
    "black on bright_yellow",
)
DOWN_STYLE = "bold white on red"
BLOCKED_STYLE = "dim"
QUOTA_MARK = "*"
"""The mark `igor sub -s` puts after the FREE count of an option the caller's quota would refuse."""


def _fixed_offset(tz: tzinfo) -> bool:
    """True for zones whose offset never changes (UTC, +02:00): they have no DST fold to look for. A tzinfo
    answers utcoffset(None) only if its offset does not depend on the date (as time objects need)."""
    return tz.utcoffset(None) is not None


def _table_times(tz: tzinfo, now: datetime) -> Callable[[datetime], str]:
    """The date policy for one table (dates.when_texts: `07:23` today, `Thu Dec 03 07:23` this year, with
    the year otherwise), plus the zone when the wall time occurs twice (the autumn DST fold), so no two
    different instants print the same; the table names its zone once, under it. Remembered per instant,
    since many reservations share a start or an end (10,000 times at 5,000 reservations, less than half
    of them distinct)."""
    from ..dates import when_texts  # (only the table needs it, not `igor sub -s`)

    fixed = _fixed_offset(tz)
    policy = when_texts(tz, now)
    seen: dict[datetime, str] = {}

    def text(when: datetime) -> str:
        known = seen.get(when)
        if known is None:
            known = policy(when)
            if not fixed:
                local = when.astimezone(tz)
                if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
                    known += f" {local.tzname()}"
            seen[when] = known
        return known

    return text


def render_slots(
    slots: Sequence[Slot],
    naming: NodeNaming,
    tz: tzinfo,
    now: datetime,
    out: IO[str],
    *,
    refusals: Sequence[str] = (),
) -> None:
    """Speculation as a table whose START column can be pasted into `igor sub -a`; an option in
    `refusals` (a non-empty sentence at its index) gets the quota mark after its FREE count."""
    from ..timeparse import format_input_time  # (`igor show` needs none of timeparse)

    out.write(f"AVAILABLE RESERVATIONS ({zone_note(now, tz)}; book one with -a START)\n")
    rows = [("START", "END", "FREE", "NODES")]
    for i, s in enumerate(slots):
        rows.append(
            (
                format_input_time(s.start, tz),
                format_input_time(s.end, tz),
                f"{s.free} {QUOTA_MARK}" if i < len(refusals) and refusals[i] else str(s.free),
                nodes_text(naming, s.nodes),
            )
        )
    out.write("".join(line + "\n" for line in columns(rows)))


# ------------------------------------------------------------------------------------------- show


@dataclass(frozen=True, slots=True)
class ShowOptions:
    """Classic `igor show` filters and sorts."""

    by_owner: bool = False
    by_name: bool = False
    reverse: bool = False
    owner: str = ""
    group: str = ""
    name: str = ""
    active: bool = False
    future: bool = False
    installed: bool = False
    errored: bool = False
    writable: bool = False
    diagram: bool = True


_FLAG_TEXTS = tuple(
    "".join(c for bit, c in zip((8, 4, 2, 1), "AWIE", strict=True) if k & bit) for k in range(16)
)
"""Every FLAGS text by its bits (A 8, W 4, I 2, E 1): `igor show` looks 5,000 of them up instead of
concatenating four strings per row."""


def select(
    view: ClusterView, opts: ShowOptions, can_write: Callable[[Reservation], bool]
) -> list[Reservation]:
    """Filter and sort like classic show (with -errored fixed to mean "only errored")."""
    now = view.now

    def wanted(res: Reservation) -> bool:
        return not (
            (opts.owner and opts.owner not in res.owner)
            or (opts.group and opts.group not in res.group)
            or (opts.name and opts.name not in res.name)
            or (opts.active and not res.is_active(now))
            or (opts.future and res.is_active(now))
            or (opts.installed and not res.installed)
            or (opts.errored and not res.error)
            or (opts.writable and not can_write(res))
        )

    filters = (opts.owner, opts.group, opts.name, opts.active, opts.future, opts.installed, opts.errored)
    if any(filters) or opts.writable:  # (writable last: it asks the caller's permissions)
        rows = [res for res in view.reservations if wanted(res)]
    else:  # the plain `igor show`: nothing to test 5,000 times
        rows = list(view.reservations)
    # Stable sorts from the last key to the first order by (first, ..., last) keys without building a
    # tuple per row: at 5,000 rows that is several times faster (and the store's order is already by id).
    rows.sort(key=attrgetter("id"))
    rows.sort(key=attrgetter("start"))
    if opts.by_owner:
        rows.sort(key=attrgetter("owner"))
    elif opts.by_name:
        rows.sort(key=attrgetter("name"))
    if opts.reverse:
        rows.reverse()
    return rows


_Cell = tuple[str, str]
"""A piece of a line: (text, rich style or ""). A plain tuple: `igor show` makes ~10,000 of them."""


def node_states(view: ClusterView) -> tuple[set[str], set[str], dict[str, Reservation]]:
    """(down, blocked now, active reservation per node) at the view's time."""
    now = view.now
    down = {n for n, st in view.status.items() if st.state is NodeState.DOWN}
    blocked: set[str] = set()
    for block in (*view.blocks, *view.windows):  # a host-policy window blocks like maintenance
        if block.start <= now and (block.end is None or now < block.end):
            blocked.update(block.nodes)
    holder: dict[str, Reservation] = {}
    for res in view.reservations:
        if res.start <= now < res.end:  # res.is_active(now), inlined: 5,000 calls
            for n in res.nodes:
                holder[n] = res
    return down, blocked, holder


@dataclass(frozen=True, slots=True)
class _Marks:
    """What each node and reservation looks like at the view's time: state sets, key letters, colours."""

    down: set[str]
    blocked: set[str]
    holder: dict[str, Reservation]
    key_of: dict[int, str]
    style_of: dict[int, str]

    @classmethod
    def of(cls, view: ClusterView) -> _Marks:
        down, blocked, holder = node_states(view)
        now = view.now
        active = sorted(
            (r for r in view.reservations if r.start <= now < r.end),  # is_active, inlined
            key=lambda r: (r.start, r.id),
        )
        return cls(
            down=down,
            blocked=blocked,
            holder=holder,
            # Past the 62 letters, further reservations share the mark "+" rather than repeating a letter.
            key_of={r.id: KEYS[i] if i < len(KEYS) else OVERFLOW_KEY for i, r in enumerate(active)},
            style_of={r.id: PALETTE[i % len(PALETTE)] for i, r in enumerate(active)},
        )


def show_json(
    view: ClusterView,
    rows: Sequence[Reservation],
    tz: tzinfo,
    can_write: Callable[[Reservation], bool],
    uefi: frozenset[str] = frozenset(),
    *,
    properties: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """`uefi`: the nodes that netboot UEFI (config `bootmode`); every other node's bootmode is "bios".
    `properties`: each node's properties (config `properties`), listed sorted ([] for none)."""
    from .shapes import reservation_json  # (the text path has no use for the JSON shapes)

    down, blocked, holder = node_states(view)
    props = properties or {}
    nodes = []
    for n in view.nodes:
        state = "down" if n in down else "blocked" if n in blocked else _status(view, n)
        held = holder.get(n)
        mode = "uefi" if n in uefi else "bios"
        nodes.append(
            {
                "name": n,
                "state": state,
                "reservation": held.name if held else None,
                "bootmode": mode,
                "properties": sorted(props.get(n, ())),
            }
        )
    return {
        "nodes": nodes,
        "reservations": [
            reservation_json(
                r,
                tz,
                active=r.is_active(view.now),
                installed=r.installed,
                error=printable(r.error),
                writable=can_write(r),
                healed=list(r.healed),
            )
            for r in rows
        ],
    }


def only_nodes(view: ClusterView, keep: Sequence[str]) -> ClusterView:
    """The view restricted to `keep` (show -p): the racks draw only those nodes, and only reservations
    and blocks holding one of them are listed (with all their nodes, as booked)."""
    from ..values import replace

    wanted = frozenset(keep)
    return replace(
        view,
        nodes=tuple(n for n in view.nodes if n in wanted),
        reservations=tuple(r for r in view.reservations if not wanted.isdisjoint(r.nodes)),
        blocks=tuple(b for b in view.blocks if not wanted.isdisjoint(b.nodes)),
    )


def _status(view: ClusterView, node: str) -> str:
    st = view.status.get(node)
    return st.state.value if st else NodeState.UNKNOWN.value


def render_show(
    view: ClusterView,
    opts: ShowOptions,
    *,
    naming: NodeNaming,
    rackwidth: int,
    rackheight: int,
    tz: tzinfo,
    can_write: Callable[[Reservation], bool],
    color: bool,
    out: IO[str],
    width: int | None = None,
    uefi: frozenset[str] = frozenset(),
) -> None:
    """The rack diagram and the reservation table.

    Every node cell carries its state as a character as well as a colour (the reservation's key letter,
    `!` down, `#` blocked), so the diagram still says everything when piped or on a monochrome terminal.
    On a cluster with UEFI nodes (`uefi`), a line under the legend says which nodes boot which way.
    """
    now = view.now
    rows = select(view, opts, can_write)
    marks = _Marks.of(view)
    shown = {r.id for r in rows}
    lines: list[list[_Cell]] = []
    if opts.diagram:
        cell_w = len(str(naming.end))
        cell = _node_cell(view, naming, marks, shown, cell_w)
        lines.extend(
            _racks(
                view.nodes, rackwidth=rackwidth, rackheight=rackheight, cell=cell, cell_w=cell_w, width=width
            )
        )
        legend = (
            f"  letter = reservation (K column)  {DOWN_GLYPH} down  {BLOCKED_GLYPH} blocked  blank = free"
        )
        lines.append([(legend, "dim")])
        if uefi:
            lines.append([(f"  {boot_modes_text(naming, view.nodes, uefi)}", "dim")])
        lines.append([])
    lines.extend(
        _table(view, rows, naming=naming, tz=tz, can_write=can_write, marks=marks, opts=opts, color=color)
    )
    lines.append([(f"({zone_note(now, tz)})", "dim")])
    if color:
        _print_rich(lines, out)
    else:
        # Most lines (every table row) are one piece: no join per line for those.
        out.write(
            "\n".join(
                (line[0][0] if len(line) == 1 else "".join(text for text, _ in line)).rstrip()
                for line in lines
            )
            + "\n"
        )


def _node_cell(
    view: ClusterView, naming: NodeNaming, marks: _Marks, shown: set[int], cell_w: int
) -> Callable[[str | None], _Cell]:
    """One node's cell in the diagram: its number, then its mark (key letter, down, blocked or blank)."""
    down, blocked, holder, key_of, style_of = (
        marks.down,
        marks.blocked,
        marks.holder,
        marks.key_of,
        marks.style_of,
    )
    # Every node's label in one pass over naming.all() (start..end in order): naming.number() per cell
    # looks its index up in a cache keyed by the naming (hash and compare five fields), ~1 us a node.
    labels = {
        name: str(number).rjust(cell_w)
        for name, number in zip(naming.all(), range(naming.start, naming.end + 1), strict=True)
    }

    def cell(node: str | None) -> _Cell:
        if node is None:
            return (" " * (cell_w + 1), "")
        number = labels.get(node) or str(naming.number(node)).rjust(cell_w)
        if node in down:
            return (number + DOWN_GLYPH, DOWN_STYLE)
        if node in blocked:
            return (number + BLOCKED_GLYPH, BLOCKED_STYLE)
        res = holder.get(node)
        if res is None:
            return (number + " ", "")
        style = style_of[res.id] if res.id in shown else "dim"
        if res.owner == view.user:
            style += " bold"
        return (number + key_of[res.id], style)

    return cell


def boot_modes_text(naming: NodeNaming, nodes: Sequence[str], uefi: frozenset[str]) -> str:
    """'boot mode: uefi kn[1-4], bios kn[5-16]': each node's firmware in two ranges, not 520 words."""
    parts = []
    for mode, members in (
        ("uefi", [n for n in nodes if n in uefi]),
        ("bios", [n for n in nodes if n not in uefi]),
    ):
        if members:
            parts.append(f"{mode} {'all nodes' if len(members) == len(nodes) else naming.compress(members)}")
    return "boot mode: " + ", ".join(parts)


def _racks(
    nodes: Sequence[str],
    *,
    rackwidth: int,
    rackheight: int,
    cell: Callable[[str | None], _Cell],
    cell_w: int,
    width: int | None,
) -> list[list[_Cell]]:
    """Racks of rackwidth x rackheight nodes in node order, placed side by side to fill the width."""
    per_rack = rackwidth * rackheight
    racks = [nodes[i : i + per_rack] for i in range(0, len(nodes), per_rack)]
    rack_w = rackwidth * (cell_w + 2) + 1
    total = width or terminal_columns(100)
    per_line = max(1, (total + 1) // (rack_w + 1))
    out: list[list[_Cell]] = []
    for g in range(0, len(racks), per_line):
        group = racks[g : g + per_line]
        out.append([("+" + "-" * (rack_w - 2) + "+ ", "") for _ in group])
        for row in range(rackheight):
            line: list[_Cell] = []
            for rack in group:
                line.append(("|", ""))
                for col in range(rackwidth):
                    i = row * rackwidth + col
                    line.append(cell(rack[i] if i < len(rack) else None))
                    line.append(("|", ""))
                line.append((" ", ""))
            out.append(line)
        out.append([("+" + "-" * (rack_w - 2) + "+ ", "") for _ in group])
    return out


def _summary_rows(
    view: ClusterView, naming: NodeNaming, marks: _Marks, diagram: bool
) -> list[tuple[tuple[str, ...], str]]:
    """The DOWN, BLOCKED (with the racks) and UNRESERVED rows above the reservations, with their styles."""
    down, blocked, holder = marks.down, marks.blocked, marks.holder

    def row(name: str, nodes: list[str], style: str) -> tuple[tuple[str, ...], str]:
        return ("", name, "N/A", "N/A", "N/A", "N/A", str(len(nodes)), nodes_text(naming, nodes)), style

    body: list[tuple[tuple[str, ...], str]] = []
    if diagram:
        body.append(row("DOWN", [n for n in view.nodes if n in down], DOWN_STYLE))
        if blocked:
            body.append(
                row("BLOCKED", [n for n in view.nodes if n in blocked and n not in down], BLOCKED_STYLE)
            )
    free = [n for n in view.nodes if n not in holder and n not in down and n not in blocked]
    body.append(row("UNRESERVED", free, "black on green"))
    return body


def _table(
    view: ClusterView,
    rows: Sequence[Reservation],
    *,
    naming: NodeNaming,
    tz: tzinfo,
    can_write: Callable[[Reservation], bool],
    marks: _Marks,
    opts: ShowOptions,
    color: bool = True,
) -> list[list[_Cell]]:
    now = view.now
    header: tuple[str, ...] = ("K", "NAME", "OWNER", "START", "END", "FLAGS", "SIZE", "NODES")
    described = any(r.desc for r in rows)  # the DESC column only when there is something to show
    if described:
        header += ("DESC",)
    body = _summary_rows(view, naming, marks, opts.diagram)
    # One row per reservation, the per-row work inlined (`flags` and the dict look-ups): at 5,000 rows
    # every call per row is ~0.5 ms.
    time_text = _table_times(tz, now)
    compress = naming.compressor()
    key_of, style_of = marks.key_of.get, marks.style_of.get
    cells = [header, *((*b[0], "") if described else b[0] for b in body)]
    styles = [b[1] for b in body]
    for res in rows:
        try:
            nodes = compress(res.nodes)
        except ValueError:  # a node the config no longer has
            nodes = nodes_text(naming, res.nodes)
        res_id, start, end = res.id, res.start, res.end
        bits = (
            (8 if start <= now < end else 0)  # res.is_active(now)
            | (4 if can_write(res) else 0)
            | (2 if res.installed else 0)
            | (1 if res.error else 0)
        )
        row = (
            key_of(res_id, ""),
            res.name,
            res.owner,
            time_text(start),
            time_text(end),
            _FLAG_TEXTS[bits] + "H" if res.healed else _FLAG_TEXTS[bits],
            str(len(res.nodes)),
            nodes,
        )
        cells.append((*row, printable(res.desc)) if described else row)
        styles.append(style_of(res_id, ""))
    texts = columns(cells, right=(1,))
    out: list[list[_Cell]] = [[(texts[0], "bold")]]
    if not color:  # one piece per line: nothing to colour
        out.extend([(line, "")] for line in texts[1:])
        return out
    name_end = texts[0].index("NAME") + len("NAME")  # colour the key and name, like classic igor
    for line, style in zip(texts[1:], styles, strict=True):
        out.append([(line[:name_end], style), (line[name_end:], "")])
    return out


def _print_rich(lines: list[list[_Cell]], out: IO[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    # no_color=False: -c means colour even where NO_COLOR is set (without -c, NO_COLOR already wins).
    console = Console(file=out, force_terminal=True, no_color=False, highlight=False, soft_wrap=True)
    for line in lines:
        text = Text()
        for piece, style in line:
            text.append(piece, style=style or None)
        console.print(text)


def render_errors(rows: Sequence[Reservation], out: IO[str]) -> None:
    """`show -e`: only reservations whose install failed, with the message."""
    errored = [r for r in rows if r.error]
    if not errored:
        return
    out.write(
        "".join(
            line + "\n"
            for line in columns([("NAME", "ERROR"), *((r.name, printable(r.error)) for r in errored)])
        )
    )
