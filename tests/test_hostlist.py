"""Tests for igor_tui.hostlist: range syntax expansion/compression, padding, errors and round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igor_tui.errors import ValidationError
from igor_tui.hostlist import NodeNaming

KN20 = NodeNaming("kn", 1, 20)
KN520 = NodeNaming("kn", 1, 520)
KN520_PADDED = NodeNaming("kn", 1, 520, padlen=3)


# --- spec §2.6 expansion table (cluster kn1..kn20) -------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("kn[1-3,5]", ["kn1", "kn2", "kn3", "kn5"]),
        ("kn[1-3,3,2]", ["kn1", "kn2", "kn3"]),
        ("kn[9,10]", ["kn9", "kn10"]),
        # Classic rejects comma lists outside brackets; we accept them.
        ("kn1,kn2", ["kn1", "kn2"]),
        ("kn7", ["kn7"]),
        # Extensions: spaces around items and parts, mixed plain and bracket items, unsorted input.
        (" kn3 , kn[ 1 - 2 ,20] ", ["kn1", "kn2", "kn3", "kn20"]),
        ("kn[5-5]", ["kn5"]),
        ("kn[1-20]", [f"kn{n}" for n in range(1, 21)]),
    ],
)
def test_expand_classic_examples(spec: str, expected: list[str]) -> None:
    assert KN20.expand(spec) == tuple(expected)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        # Classic returns an empty list for all of these; we raise a one-line ValidationError instead.
        ("kn[3-1]", "range '3-1' is reversed (write 1-3)"),
        ("kn[1-25]", "kn21 is not a node of this cluster (kn[1-20])"),
        ("kn[1-3", "missing ']'"),
        ("kn", "'kn' has no node number"),
        ("kn[]", "empty brackets"),
        ("kn[ ]", "empty brackets"),
        ("kn[1,a]", "'a' is not a number or range"),
        ("kn[1-2-3]", "'1-2-3' has more than one '-'"),
        ("foo[1-4]", "does not start with the node prefix 'kn'"),
        ("foo4", "does not start with the node prefix 'kn'"),
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("kn1,,kn2", "empty item between commas"),
        ("kn1,", "empty item between commas"),
        ("kn[1,,2]", "empty part between commas"),
        ("kn[1-3]x", "unexpected text 'x' after ']'"),
        ("kn1]", "']' without a matching '['"),
        ("kn[1,[2]]", "nested '['"),
        ("knx", "'knx' is not a node name such as kn1"),
        ("kn 7", "'kn 7' is not a node name"),
        ("kn[-3]", "'-3' is not a number or range"),
        ("kn[٣]", "is not a number or range"),  # non-ASCII digits are not numbers here
        ("kn0", "kn0 is not a node of this cluster (kn[1-20])"),
        ("kn21", "kn21 is not a node of this cluster"),
        ("kn[0-3]", "kn0 is not a node of this cluster"),
        ("kn[3,99]", "kn99 is not a node of this cluster"),
        ("kn[25-30]", "kn25 is not a node of this cluster"),
        ("kn05", "'05' has leading zeros but node numbers here are not padded"),
        ("kn" + "9" * 5000, "is not a node of this cluster"),  # must not hit int()'s digit limit
        ("kn[1-" + "9" * 5000 + "]", "kn21 is not a node of this cluster"),
    ],
)
def test_expand_errors(spec: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        KN20.expand(spec)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"bad node list {spec!r}")
    assert "\n" not in message


# --- spec §10.3 item 12: config range expansion (prefix host, 1..4) -----------------------------------


def test_config_range_expansion() -> None:
    hosts = NodeNaming("host", 1, 4)
    assert len(hosts.expand("host[1-4]")) == 4
    with pytest.raises(ValidationError, match=r"host5 is not a node of this cluster \(host\[1-4\]\)"):
        hosts.expand("host[1-5]")
    with pytest.raises(ValidationError, match="does not start with the node prefix 'host'"):
        hosts.expand("foo[1-4]")


# --- spec §10.3 item 13: ranges package --------------------------------------------------------------


@pytest.mark.parametrize(
    ("naming", "spec", "expected"),
    [
        (KN520, "kn1", ["kn1"]),
        (KN520, "kn[1-3,100]", ["kn1", "kn2", "kn3", "kn100"]),
        (NodeNaming("", 1, 520), "[1-3,100]", ["1", "2", "3", "100"]),
        # Classic pads output to the typed width; we always use the cluster's padlen instead.
        (KN520_PADDED, "kn[008-011,100]", ["kn008", "kn009", "kn010", "kn011", "kn100"]),
        # Unpadded numbers on a padded cluster: classic produced invalid kn1..kn10; we canonicalise.
        (KN520_PADDED, "kn[1-10]", [f"kn{n:03d}" for n in range(1, 11)]),
        (KN520_PADDED, "kn[001-010]", [f"kn{n:03d}" for n in range(1, 11)]),
        (KN520_PADDED, "kn[01-2],kn7,kn007", ["kn001", "kn002", "kn007"]),
        # SplitList (stats only in classic) is not ported; its comma-list counts, adapted to one cluster:
        (KN520, "kn1,kn[2-3],kn[4,5,6]", ["kn1", "kn2", "kn3", "kn4", "kn5", "kn6"]),
    ],
)
def test_split_range(naming: NodeNaming, spec: str, expected: list[str]) -> None:
    assert naming.expand(spec) == tuple(expected)


def test_padded_number_typed_on_unpadded_cluster_is_an_error() -> None:
    # Classic returns kn008 etc. verbatim (invalid hosts later); on an unpadded cluster we refuse.
    with pytest.raises(ValidationError, match="'008' has leading zeros"):
        KN520.expand("kn[008-011,100]")


def test_too_many_digits_on_padded_cluster() -> None:
    with pytest.raises(ValidationError, match=r"'0007' has more digits than node numbers \(padded to 3\)"):
        KN520_PADDED.expand("kn0007")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["kn1"], "kn1"),
        ([f"kn{n}" for n in range(1, 6)], "kn[1-5]"),
        ([*(f"kn{n}" for n in range(1, 6)), "kn20"], "kn[1-5,20]"),
        (["kn44", "kn45", *(f"kn{n}" for n in range(1, 6)), "kn20"], "kn[1-5,20,44-45]"),
        (["kn3", "kn1", "kn2", "kn7", "kn9", "kn10"], "kn[1-3,7,9-10]"),
        # Classic gives kn[1,1-2] for duplicates; we ignore them.
        (["kn1", "kn1", "kn2"], "kn[1-2]"),
        (["kn2", "kn2"], "kn2"),
        ([], ""),
    ],
)
def test_compress_examples(names: list[str], expected: str) -> None:
    assert KN520.compress(names) == expected
    assert KN520.compressor()(names) == expected


def test_compress_keeps_padding() -> None:
    # Classic loses padding (kn001,kn002 -> kn[1-2]); we keep it so the output can be pasted back.
    assert KN520_PADDED.compress(["kn001", "kn002", "kn003", "kn010"]) == "kn[001-003,010]"
    assert KN520_PADDED.compress(["kn7", "kn007"]) == "kn007"
    assert KN520_PADDED.compress(iter(["kn2", "kn1"])) == "kn[001-002]"


@pytest.mark.parametrize("bad", ["foo1", "kn0", "kn521", "kn", "kn05", "", "KN1"])
def test_compress_foreign_name_is_a_programming_error(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a node of"):
        KN520.compress(["kn1", bad])
    with pytest.raises(ValueError, match="is not a node of"):
        KN520.compressor()(["kn1", bad])


# --- the NodeNaming primitives -----------------------------------------------------------------------


def test_name_and_number() -> None:
    assert KN520_PADDED.name(7) == "kn007"
    assert KN520_PADDED.name(520) == "kn520"
    assert KN520_PADDED.number("kn7") == 7
    assert KN520_PADDED.number("kn07") == 7
    assert KN520_PADDED.number("kn007") == 7
    assert KN520_PADDED.number("kn0007") is None
    assert KN520_PADDED.number("kn521") is None
    assert KN520_PADDED.number("kn000") is None
    assert KN520_PADDED.number("node7") is None
    assert KN520_PADDED.number("kn") is None
    assert KN520_PADDED.number("kn+7") is None
    assert KN520_PADDED.number("kn٧") is None
    assert KN520.number("kn007") is None
    assert NodeNaming("", 0, 9).number("0") == 0
    assert NodeNaming("", 0, 9).number("") is None


def test_number_when_end_is_wider_than_padding() -> None:
    naming = NodeNaming("n", 1, 150, padlen=2)
    assert naming.all()[:2] == ("n01", "n02")
    assert naming.all()[-1] == "n150"
    assert naming.number("n100") == 100
    assert naming.number("n0100") is None
    assert naming.compress(["n99", "n100", "n1"]) == "n[01,99-100]"
    assert naming.expand("n[01,99-100]") == ("n01", "n99", "n100")


def test_all_and_describe() -> None:
    assert KN20.all() == tuple(f"kn{n}" for n in range(1, 21))
    assert KN20.describe() == "kn[1-20]"
    assert KN520_PADDED.describe() == "kn[001-520]"
    assert KN520_PADDED.all()[0] == "kn001"
    assert NodeNaming("kn", 4, 4).describe() == "kn4"
    assert NodeNaming("kn", 4, 4).all() == ("kn4",)
    assert KN20.all() is KN20.all()  # cached


def test_canonical() -> None:
    assert KN520_PADDED.canonical("kn7") == "kn007"
    assert KN520_PADDED.canonical("kn007") == "kn007"
    with pytest.raises(ValidationError) as info:
        KN520.canonical("kn999")
    assert str(info.value) == "kn999 is not a node of this cluster (kn[1-520])"
    with pytest.raises(ValidationError, match=r"'kn1\\n' is not a node"):
        KN520.canonical("kn1\n")


def test_empty_prefix() -> None:
    plain = NodeNaming("", 1, 520)
    assert plain.expand("[1-3,100]") == ("1", "2", "3", "100")
    assert plain.expand("7,8") == ("7", "8")
    assert plain.compress(["1", "2", "3", "100"]) == "[1-3,100]"
    assert plain.compress(["5"]) == "5"
    with pytest.raises(ValidationError, match="nodes of this cluster are plain numbers"):
        plain.expand("kn[1-3]")
    with pytest.raises(ValidationError, match="'kn1' is not a node name"):
        plain.expand("kn1")


@pytest.mark.parametrize(
    ("prefix", "start", "end", "padlen"),
    [
        ("kn", -1, 5, 0),
        ("kn", 5, 4, 0),
        ("kn", 1, 5, -1),
        ("k[n", 1, 5, 0),
        ("k n", 1, 5, 0),
        ("k,", 1, 2, 0),
    ],
)
def test_invalid_naming(prefix: str, start: int, end: int, padlen: int) -> None:
    with pytest.raises(ValueError, match="invalid node"):
        NodeNaming(prefix, start, end, padlen)


def test_large_cluster() -> None:
    big = NodeNaming("node", 1, 10_000, padlen=5)
    names = big.all()
    assert len(names) == 10_000
    assert big.expand("node[1-10000]") == names
    assert big.compress(names) == "node[00001-10000]"
    every_other = names[::2]
    assert big.expand(big.compress(every_other)) == every_other
    assert all(big.number(name) is not None for name in names)


# --- properties ---------------------------------------------------------------------------------------


@st.composite
def clusters(draw: st.DrawFn) -> NodeNaming:
    prefix = draw(st.sampled_from(["kn", "node", ""]))
    padlen = draw(st.integers(0, 4))
    limit = 10**padlen - 1 if padlen else 3000
    start = draw(st.integers(0, min(limit, 2000)))
    end = draw(st.integers(start, min(limit, start + 600)))
    return NodeNaming(prefix, start, end, padlen)


@st.composite
def cluster_and_subset(draw: st.DrawFn) -> tuple[NodeNaming, list[str]]:
    naming = draw(clusters())
    numbers = draw(st.lists(st.integers(naming.start, naming.end), min_size=1, max_size=80))
    # Mix canonical (padded) and unpadded spellings; both name the same node.
    names = [naming.name(n) if draw(st.booleans()) else naming.prefix + str(n) for n in numbers]
    return naming, names


@given(cluster_and_subset())
def test_compress_expand_round_trip(case: tuple[NodeNaming, list[str]]) -> None:
    naming, names = case
    numbers = {naming.number(name) for name in names}
    assert None not in numbers
    expected = tuple(naming.name(n) for n in sorted(n for n in numbers if n is not None))
    compressed = naming.compress(names)
    assert naming.compressor()(names) == compressed
    assert naming.compressor()(expected) == compressed  # canonical names: the compressor's own path
    assert naming.compressor()(expected[::-1]) == compressed
    assert naming.expand(compressed) == expected
    assert naming.compress(expected) == compressed
    assert naming.expand(",".join(names)) == expected
    if len(expected) == 1:
        assert "[" not in compressed


@given(clusters())
def test_describe_round_trip(naming: NodeNaming) -> None:
    assert naming.expand(naming.describe()) == naming.all()
    assert naming.compress(naming.all()) == naming.describe()
    assert all(naming.canonical(name) == name for name in naming.all()[:50])
    assert naming.number(naming.name(naming.end + 1)) is None


def _reference_compress(naming: NodeNaming, names: list[str]) -> str:
    """compress as it was before the name -> number cache: every name parsed, runs found one by one."""
    numbers = sorted({naming._parse_number(name[len(naming.prefix) :]) for name in names})
    if len(numbers) == 1:
        return naming.name(numbers[0])
    runs: list[str] = []
    first = last = numbers[0]
    for n in [*numbers[1:], -1]:
        if n == last + 1:
            last = n
            continue
        runs.append(
            naming._digits(first) if first == last else f"{naming._digits(first)}-{naming._digits(last)}"
        )
        first = last = n
    return f"{naming.prefix}[{','.join(runs)}]"


@given(cluster_and_subset())
def test_cached_lookups_agree_with_parsing(case: tuple[NodeNaming, list[str]]) -> None:
    """number/canonical/compress use a cached name -> number table; it must say what parsing says, for
    canonical and unpadded spellings alike, and for iterators as well as sequences."""
    naming, names = case
    assert naming.compress(names) == _reference_compress(naming, names)
    assert naming.compress(iter(names)) == naming.compress(tuple(names))
    for name in names:
        number = naming._parse_number(name[len(naming.prefix) :])
        assert naming.number(name) == number
        assert naming.canonical(name) == naming.name(number)
    outside = naming.prefix + str(naming.end + 1)
    assert naming.number(outside) is None
    with pytest.raises(ValueError, match="not a node"):
        naming.compress([*names, outside])
