"""Node names of one cluster and the range syntax users type for them (kn[1-3,7]), padding-aware."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from igor_tui.errors import ValidationError
from igor_tui.values import dataclass


def _is_digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits (str.isdigit alone also accepts e.g. Arabic-Indic digits)."""
    return text.isascii() and text.isdigit()


def _shown(text: str) -> str:
    """`text` as is when it prints on one line unambiguously, else its repr."""
    if text and text.isprintable() and text == text.strip():
        return text
    return repr(text)


@functools.lru_cache(maxsize=32)
def _all_names(naming: NodeNaming) -> tuple[str, ...]:
    """Cached node list: building 10,000 names on every call would dominate table redraws."""
    return tuple(naming.name(n) for n in range(naming.start, naming.end + 1))


@functools.lru_cache(maxsize=32)
def _index(naming: NodeNaming) -> tuple[dict[str, int], tuple[str, ...]]:
    """(canonical name -> number, number - start -> padded digits), cached per naming: `igor show`
    compresses every reservation's node list (~43,000 names at 5,000 reservations), and parsing each name
    again cost more than everything else it drew. Only non-canonical spellings (kn7 on a padded cluster)
    still take the parsing path. Never mutate the result: it is shared."""
    names = _all_names(naming)
    cut = len(naming.prefix)
    numbers = dict(zip(names, range(naming.start, naming.end + 1), strict=True))
    return numbers, tuple(name[cut:] for name in names)


class _Bad(Exception):
    """Internal: why one piece of a node list is wrong; `expand` wraps it into a ValidationError."""


@dataclass(frozen=True, slots=True)
class NodeNaming:
    """How one cluster names its nodes: prefix + number in [start, end], zero-padded to padlen digits."""

    prefix: str
    start: int
    end: int
    padlen: int = 0

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start or self.padlen < 0:
            raise ValueError(f"invalid node naming {self!r}: need 0 <= start <= end and padlen >= 0")
        if any(c in "[]," or c.isspace() for c in self.prefix):
            raise ValueError(f"invalid node prefix {self.prefix!r}: must not contain brackets, ',' or spaces")

    def _digits(self, number: int) -> str:
        return str(number).zfill(self.padlen)

    def name(self, number: int) -> str:
        """The canonical (padded) spelling of node `number`, the form stored and displayed everywhere."""
        return self.prefix + self._digits(number)

    def _core(self, digits: str) -> str:
        """`digits` without leading zeros; raises _Bad if it is not digits or has more zeros than padding."""
        if not _is_digits(digits):
            raise _Bad(f"{digits!r} is not a number")
        core = digits.lstrip("0") or "0"
        if len(digits) > max(self.padlen, len(core)):
            if self.padlen:
                raise _Bad(f"{digits!r} has more digits than node numbers (padded to {self.padlen})")
            raise _Bad(f"{digits!r} has leading zeros but node numbers here are not padded")
        return core

    def _above_end(self, core: str) -> bool:
        # Compare lengths first so absurdly long input never reaches int().
        return len(core) > len(str(self.end)) or int(core) > self.end

    def _parse_number(self, digits: str) -> int:
        """Node number typed as `digits` (padded or not); raises _Bad unless it is a node of this cluster."""
        core = self._core(digits)
        if self._above_end(core):
            raise _Bad(self._outside(self.prefix + core.zfill(self.padlen)))
        number = int(core)
        if number < self.start:
            raise _Bad(self._outside(self.name(number)))
        return number

    def _outside(self, name: str) -> str:
        return f"{_shown(name)} is not a node of this cluster ({self.describe()})"

    def number(self, name: str) -> int | None:
        """The node number of `name` (padded or unpadded spelling), or None if it is not a node here."""
        known = _index(self)[0].get(name)
        if known is not None:
            return known
        if not name.startswith(self.prefix):
            return None
        try:
            return self._parse_number(name[len(self.prefix) :])
        except _Bad:
            return None

    def all(self) -> tuple[str, ...]:
        """Every node name, start..end, canonical spelling; cached because large clusters redraw often."""
        return _all_names(self)

    def canonical(self, name: str) -> str:
        """The stored spelling of a user-typed node name, so kn7 and kn007 refer to the same node."""
        if name in _index(self)[0]:
            return name
        number = self.number(name)
        if number is None:
            raise ValidationError(self._outside(name))
        return self.name(number)

    def expand(self, spec: str) -> tuple[str, ...]:
        """Turn what a user typed (kn[1-3,7],kn9) into canonical node names, sorted and deduplicated.

        Unlike classic igor this accepts comma lists outside brackets, spaces around items and parts,
        and unpadded numbers on padded clusters; anything wrong is an error, never an empty result.
        """
        try:
            if not spec.strip():
                raise _Bad(f"it is empty; {self._expected()}")
            items = _split_top_level(spec)
            numbers: set[int] = set()
            for item in items:
                numbers.update(self._expand_item(item))
        except _Bad as bad:
            raise ValidationError(f"bad node list {spec!r}: {bad}") from None
        return tuple(self.name(n) for n in sorted(numbers))

    def _expand_item(self, item: str) -> Iterable[int]:
        if not item:
            raise _Bad(f"empty item between commas; {self._expected()}")
        open_at = item.find("[")
        if open_at < 0:
            if not item.startswith(self.prefix):
                raise _Bad(self._wrong_prefix(item))
            digits = item[len(self.prefix) :]
            if not digits:
                raise _Bad(f"{item!r} has no node number after the prefix")
            if not _is_digits(digits):
                raise _Bad(f"{item!r} is not a node name such as {self.name(self.start)}")
            return (self._parse_number(digits),)
        if item[:open_at] != self.prefix:
            raise _Bad(self._wrong_prefix(item))
        if not item.endswith("]"):
            raise _Bad(f"unexpected text {item[item.index(']') + 1 :]!r} after ']' in {item!r}")
        inside = item[open_at + 1 : -1]
        if not inside.strip():
            raise _Bad(f"empty brackets in {item!r}; expected numbers or ranges like [1-3,7]")
        result: list[int] = []
        for raw in inside.split(","):
            part = raw.strip()
            if not part:
                raise _Bad(f"empty part between commas in {item!r}")
            bounds = part.split("-")
            if len(bounds) > 2:
                raise _Bad(f"{part!r} has more than one '-' (expected N or A-B)")
            if not all(_is_digits(b.strip()) for b in bounds):
                raise _Bad(f"{part!r} is not a number or range (expected N or A-B)")
            if len(bounds) == 1:
                result.append(self._parse_number(part))
                continue
            lo_text, hi_text = bounds[0].strip(), bounds[1].strip()
            lo_core, hi_core = self._core(lo_text), self._core(hi_text)
            if (len(lo_core), lo_core) > (len(hi_core), hi_core):  # numeric order without int()
                raise _Bad(f"range {part!r} is reversed (write {hi_text}-{lo_text})")
            lo = self._parse_number(lo_text)
            if self._above_end(hi_core):
                raise _Bad(self._outside(self.name(max(lo, self.end + 1))))
            result.extend(range(lo, int(hi_core) + 1))
        return result

    def _wrong_prefix(self, item: str) -> str:
        if not self.prefix:
            return f"{item!r} is not a node name: nodes of this cluster are plain numbers ({self.describe()})"
        return f"{item!r} does not start with the node prefix {self.prefix!r}; {self._expected()}"

    def _expected(self) -> str:
        return f"expected node names such as {self.name(self.start)} or {self.describe()}"

    def compress(self, names: Iterable[str]) -> str:
        """The shortest range form of `names` (kn[1-3,7]) for tables and logs; expand() reads it back."""
        known, digits = _index(self)
        names = names if isinstance(names, (tuple, list)) else list(names)
        try:
            ordered = sorted(set(map(known.__getitem__, names)))
        except KeyError:  # a non-canonical spelling, or not a node here at all
            ordered = sorted({self._known_number(name) for name in names})
        return _ranges(self.prefix, digits, self.start, ordered)

    def compressor(self) -> Callable[[Sequence[str]], str]:
        """`compress` for many node lists in a row (`igor show`'s table): the index is looked up once, and
        a list of canonical names takes no method call, hashing of this naming or type check. Measured at
        5,000 reservations: ~2x faster per list than `compress`, and the runs are found inline (most lists
        in a busy cluster have several) with digits indexed by node number. Raises ValueError like
        `compress`."""
        get = _index(self)[0].__getitem__
        prefix = self.prefix
        spelled = ("",) * self.start + _index(self)[1]  # spelled[n] is node n's digits
        slow = self.compress

        def compress(names: Sequence[str]) -> str:
            try:
                ordered = sorted(set(map(get, names)))
            except KeyError:  # a non-canonical spelling, or not a node here at all
                return slow(names)
            if not ordered:
                return ""
            first = last = ordered[0]
            if ordered[-1] - first == len(ordered) - 1:  # one run: a single node or a contiguous block
                last = ordered[-1]
                return (
                    prefix + spelled[first]
                    if first == last
                    else f"{prefix}[{spelled[first]}-{spelled[last]}]"
                )
            runs: list[str] = []
            for n in ordered:
                if n - last > 1:
                    runs.append(spelled[first] if first == last else f"{spelled[first]}-{spelled[last]}")
                    first = n
                last = n
            runs.append(spelled[first] if first == last else f"{spelled[first]}-{spelled[last]}")
            return f"{prefix}[{','.join(runs)}]"

        return compress

    def _known_number(self, name: str) -> int:
        number = self.number(name)
        if number is None:
            raise ValueError(f"{name!r} is not a node of {self.describe()}")
        return number

    def describe(self) -> str:
        """The whole cluster in range form (kn[1-520]), used in error messages and headers."""
        if self.start == self.end:
            return self.name(self.start)
        return f"{self.prefix}[{self._digits(self.start)}-{self._digits(self.end)}]"


def _ranges(prefix: str, digits: Sequence[str], base: int, ordered: Sequence[int]) -> str:
    """The range form of sorted, distinct node numbers; digits[n - base] spells node n."""
    if not ordered:
        return ""
    first, last = ordered[0], ordered[-1]
    if last - first == len(ordered) - 1:  # one run: a single node or a contiguous block (the usual)
        if first == last:
            return prefix + digits[first - base]
        return f"{prefix}[{digits[first - base]}-{digits[last - base]}]"
    runs: list[str] = []
    first = last = ordered[0]
    for n in [*ordered[1:], -1]:
        if n == last + 1:
            last = n
            continue
        run = digits[first - base]
        runs.append(run if first == last else f"{run}-{digits[last - base]}")
        first = last = n
    return f"{prefix}[{','.join(runs)}]"


def _split_top_level(spec: str) -> list[str]:
    """Split at commas outside brackets, stripping each item; bracket mistakes raise _Bad."""
    items: list[str] = []
    depth = 0
    begin = 0
    for i, c in enumerate(spec):
        if c == "[":
            if depth:
                raise _Bad("nested '[' is not allowed")
            depth = 1
        elif c == "]":
            if not depth:
                raise _Bad("']' without a matching '['")
            depth = 0
        elif c == "," and not depth:
            items.append(spec[begin:i].strip())
            begin = i + 1
    if depth:
        raise _Bad("missing ']'")
    items.append(spec[begin:].strip())
    return items
