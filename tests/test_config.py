"""Tests for igor_tui.config: every validation rule, the defaults, file handling and the shipped example."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from igor_tui.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    HostAddress,
    config_path,
    load_config,
    parse_config,
    system_timezone,
)
from igor_tui.config.zones import UTC_NAMES, load_zone, zone_ok
from igor_tui.dates import span_text, when_zone
from igor_tui.errors import ConfigError
from igor_tui.model import Limits

EXAMPLE = Path(__file__).resolve().parent.parent / "igor.conf.example"
CONFIG_KEYS = [f.name for f in dataclasses.fields(Config) if f.name != "path"]

# The sample config classic igor shipped (spec §6), with the values listed there.
CLASSIC_SAMPLE: dict[str, object] = {
    "tftproot": "/tftpboot/",
    "prefix": "kn",
    "start": 1,
    "end": 5,
    "padlen": 0,
    "rackwidth": 1,
    "rackheight": 5,
    "usecobbler": False,
    "cobblerdefaultprofile": "",
    "poweroncommand": "powerbot on %s",
    "poweroffcommand": "powerbot off %s",
    "autoreboot": False,
    "network": "",
    "vlan_min": 1000,
    "vlan_max": 2000,
    "networkuser": "admin",
    "networkpassword": "admin",
    "network_url": "arista:80/command-api",
    "node_map": {f"kn{i}": f"Et1/{i}" for i in range(1, 6)},
    "logfile": "/var/log/igor/log",
    "timelimit": 4320,
    "nodelimit": 50,
}


def minimal(**extra: object) -> dict[str, object]:
    """The smallest valid config (cluster kn[1-16]) plus `extra`."""
    data: dict[str, object] = {"tftproot": "/srv/tftp", "prefix": "kn", "start": 1, "end": 16}
    data.update(extra)
    return data


def arista(**extra: object) -> dict[str, object]:
    """A valid config with Arista segmentation over kn[1-4]."""
    data = minimal(
        end=4,
        network="arista",
        vlan_min=100,
        vlan_max=199,
        network_url="arista:80/command-api",
        node_map={f"kn{i}": f"Et1/{i}" for i in range(1, 5)},
    )
    data.update(extra)
    return data


def problems_of(data: object, file_mode: int | None = None) -> tuple[str, ...]:
    """The problems parse_config reports; fails the test if it accepts `data`."""
    with pytest.raises(ConfigError) as info:
        parse_config(data, path="/etc/igor.conf", file_mode=file_mode)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"/etc/igor.conf: {len(info.value.problems)} problem(s) in config")
    return info.value.problems


def one_problem(data: object, file_mode: int | None = None) -> str:
    """The single problem `data` must produce (one mistake must never be reported twice)."""
    found = problems_of(data, file_mode)
    assert len(found) == 1, found
    return found[0]


def write(path: Path, data: object, mode: int = 0o600) -> str:
    """Write `data` as JSON (or verbatim if it is a str) with `mode`, returning the path as a str."""
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    path.chmod(mode)
    return str(path)


def zone_available(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# --- one mistake, one problem naming the key, the value and what is expected -------------------------

RULES = [
    pytest.param({"rackwidht": 3}, ["unknown key 'rackwidht': did you mean 'rackwidth'?"], id="unknown-typo"),
    pytest.param({"colour": "red"}, ["unknown key 'colour'"], id="unknown-no-match"),
    pytest.param({"start": True}, ["start", "True", "an integer"], id="bool-is-not-int"),
    pytest.param({"end": "16"}, ["end", "'16'", "an integer"], id="string-is-not-int"),
    pytest.param({"padlen": 1.5}, ["padlen", "1.5", "an integer"], id="float-is-not-int"),
    pytest.param({"timelimit": None}, ["timelimit", "None", "an integer"], id="null-is-not-int"),
    pytest.param({"usecobbler": 1}, ["usecobbler", "1", "true or false"], id="int-is-not-bool"),
    pytest.param({"autoreboot": "yes"}, ["autoreboot", "'yes'", "true or false"], id="string-is-not-bool"),
    pytest.param({"prefix": 5}, ["prefix", "5", "a string"], id="int-is-not-string"),
    pytest.param({"logfile": ["/var/log"]}, ["logfile", "['/var/log']", "a string"], id="list-is-not-string"),
    pytest.param({"node_map": ["kn1"]}, ["node_map", "['kn1']", "an object"], id="node-map-not-object"),
    pytest.param({"node_map": {"kn1": 1}}, ["node_map['kn1']", "1", "switch port"], id="node-map-value"),
    pytest.param({"hosts": ["kn1"]}, ["hosts", "['kn1']", "an object"], id="hosts-not-object"),
    pytest.param({"admins": "ops"}, ["admins", "'ops'", "a list"], id="admins-not-list"),
    pytest.param({"advanced": 3}, ["advanced", "3", "an object"], id="advanced-not-object"),
    pytest.param({"timezone": 1}, ["timezone", "1", "a string"], id="timezone-not-string"),
    pytest.param({"tftproot": "srv/tftp"}, ["tftproot", "'srv/tftp'", "absolute"], id="tftproot-relative"),
    pytest.param({"tftproot": ""}, ["tftproot", "''", "absolute"], id="tftproot-empty"),
    pytest.param({"statedir": "state"}, ["statedir", "'state'", "absolute"], id="statedir-relative"),
    pytest.param({"logfile": "igor.log"}, ["logfile", "'igor.log'", "absolute"], id="logfile-relative"),
    pytest.param({"contentdir": "c"}, ["contentdir", "'c'", "absolute"], id="contentdir-relative"),
    pytest.param(
        {"contentdir": "/var/lib/igor/content"},
        ["contentdir", "'/var/lib/igor/content'", "inside tftproot"],
        id="contentdir-outside-the-tftp-root",
    ),
    pytest.param({"clockstepminutes": 0}, ["clockstepminutes", "0", "1 to 1440"], id="clockstep-zero"),
    pytest.param({"clockstepminutes": "10"}, ["clockstepminutes", "'10'", "an integer"], id="clockstep-text"),
    pytest.param({"start": 5, "end": 3}, ["end", "3", "start 5"], id="end-before-start"),
    pytest.param({"start": -1}, ["start", "-1", "negative"], id="start-negative"),
    pytest.param({"end": 10**9}, ["end", "1000000000", "100000"], id="absurd-cluster"),
    pytest.param({"padlen": -2}, ["padlen", "-2", "negative"], id="padlen-negative"),
    pytest.param({"prefix": "k n"}, ["prefix", "'k n'"], id="prefix-space"),
    pytest.param({"prefix": "kn["}, ["prefix", "'kn['"], id="prefix-bracket"),
    pytest.param({"rackwidth": 0}, ["rackwidth", "0", "positive"], id="rackwidth-zero"),
    pytest.param({"rackheight": -1}, ["rackheight", "-1", "positive"], id="rackheight-negative"),
    pytest.param(
        {"vlan_min": 0, "vlan_max": 100},
        ["vlan_min", "vlan pool 0..100 contains 0, which is not a usable VLAN"],
        id="vlan-pool-contains-0",
    ),
    pytest.param(
        {
            "vlan_min": 0,
            "vlan_max": 0,
            "network": "arista",
            "network_url": "a:80/command-api",
            "end": 1,
            "node_map": {"kn1": "Et1"},
        },
        ["vlan_min", "vlan pool 0..0 contains 0", "'arista'"],
        id="arista-without-pool",
    ),
    pytest.param({"vlan_min": -5, "vlan_max": -1}, ["vlan_min", "-5", "below 1"], id="vlan-negative"),
    pytest.param({"vlan_min": 2000, "vlan_max": 1000}, ["vlan_min", "2000", "1000"], id="vlan-reversed"),
    pytest.param({"vlan_min": 5, "vlan_max": 0}, ["vlan_min", "5", "vlan_max 0"], id="vlan-max-zero"),
    pytest.param({"vlan_min": 1, "vlan_max": 5000}, ["vlan_max", "5000", "4094"], id="vlan-above-4094"),
    pytest.param({"network": "cumulus"}, ["network", "'cumulus'", "not supported"], id="cumulus"),
    pytest.param({"network": "juniper"}, ["network", "'juniper'", "'arista'"], id="unknown-network"),
    pytest.param({"network": "Arista"}, ["network", "'Arista'"], id="network-is-case-sensitive"),
    pytest.param(
        {"poweroncommand": "powerbot on"}, ["poweroncommand", "'powerbot on'", "%s"], id="power-no-%s"
    ),
    pytest.param(
        {"poweroffcommand": "off %s %s"}, ["poweroffcommand", "'off %s %s'", "%s"], id="power-two-%s"
    ),
    pytest.param({"hosts": {"kn99": {}}}, ["hosts['kn99']", "'kn99'", "kn[1-16]"], id="hosts-unknown-node"),
    pytest.param({"hosts": {"node1": {}}}, ["hosts['node1']", "kn[1-16]"], id="hosts-wrong-prefix"),
    pytest.param(
        {"hosts": {"kn1": "127.0.0.1"}}, ["hosts['kn1']", "'127.0.0.1'", "object"], id="hosts-value"
    ),
    pytest.param(
        {"hosts": {"kn1": {"ipaddr": "127.0.0.1"}}},
        ["hosts['kn1']", "'ipaddr'", "'ip' and 'mac'"],
        id="hosts-key",
    ),
    pytest.param(
        {"hosts": {"kn1": {"ip": 10}}}, ["hosts['kn1']", "ip", "10", "a string"], id="hosts-ip-type"
    ),
    pytest.param(
        {"hosts": {"kn1": {"ip": "10.0.0.256"}}}, ["hosts['kn1']", "'10.0.0.256'", "IPv4"], id="ip-256"
    ),
    pytest.param({"hosts": {"kn1": {"ip": "fe80::1"}}}, ["hosts['kn1']", "'fe80::1'", "IPv4"], id="ip-v6"),
    pytest.param({"hosts": {"kn1": {"ip": "10.0.0.01"}}}, ["'10.0.0.01'", "IPv4"], id="ip-leading-zero"),
    pytest.param(
        {"hosts": {"kn1": {"mac": "52:54:00:00:00"}}},
        ["hosts['kn1']", "'52:54:00:00:00'", "MAC"],
        id="mac-short",
    ),
    pytest.param(
        {"hosts": {"kn1": {"mac": "52:54:00:00:00:0g"}}}, ["'52:54:00:00:00:0g'", "MAC"], id="mac-hex"
    ),
    pytest.param(
        {"hosts": {"kn1": {"mac": "52:54-00:00:00:01"}}}, ["'52:54-00:00:00:01'", "MAC"], id="mac-mixed"
    ),
    pytest.param(
        {"hosts": {"kn1": {"ip": "127.0.0.1"}, "kn2": {"ip": "127.0.0.1"}}},
        ["hosts", "'127.0.0.1'", "'kn1'", "'kn2'"],
        id="hosts-duplicate-ip",
    ),
    pytest.param(
        {"hosts": {"kn1": {"mac": "52:54:00:00:00:01"}, "kn2": {"mac": "52-54-00-00-00-01"}}},
        ["hosts", "mac", "'52:54:00:00:00:01'", "'kn2'"],
        id="hosts-duplicate-mac",
    ),
    pytest.param({"admins": ["ops", ""]}, ["admins[1]", "''", "empty"], id="admins-empty"),
    pytest.param({"admins": ["%"]}, ["admins[0]", "'%'", "empty"], id="admins-empty-group"),
    pytest.param({"admins": ["a b"]}, ["admins[0]", "'a b'", "whitespace"], id="admins-space"),
    pytest.param({"admins": [1]}, ["admins[0]", "1", "user name"], id="admins-not-string"),
    pytest.param(
        {"timezone": "Mars/Olympus_Mons"}, ["timezone", "'Mars/Olympus_Mons'", "IANA"], id="tz-unknown"
    ),
    pytest.param({"timezone": "/etc/passwd"}, ["timezone", "'/etc/passwd'", "IANA"], id="tz-absolute"),
    pytest.param({"timezone": "../zoneinfo/UTC"}, ["timezone", "'../zoneinfo/UTC'"], id="tz-escape"),
    pytest.param(
        {"usecobbler": True}, ["cobblerdefaultprofile", "''", "usecobbler"], id="cobbler-no-profile"
    ),
    pytest.param(
        {"TFTPRoot": "/tftpboot"}, ["'tftproot'", "'TFTPRoot'", "case-insensitive"], id="key-collision"
    ),
]


@pytest.mark.parametrize(("overrides", "needles"), RULES)
def test_each_rule_reports_one_problem_naming_key_and_value(
    overrides: dict[str, object], needles: list[str]
) -> None:
    problem = one_problem(minimal(**overrides))
    for needle in needles:
        assert needle in problem, (needle, problem)


@pytest.mark.parametrize(
    "key",
    ["timelimit", "nodelimit", "extendwithin", "expirationleadtime", "concurrencylimit", "commandretries"],
)
def test_negative_limits_and_counters_are_rejected(key: str) -> None:
    problem = one_problem(minimal(**{key: -1}))
    assert problem.startswith(f"{key}: -1 is negative")


def test_missing_tftproot_is_reported() -> None:
    data = minimal()
    del data["tftproot"]
    assert one_problem(data).startswith("tftproot: missing")


def test_top_level_must_be_an_object() -> None:
    assert "top level" in one_problem(["tftproot", "/srv/tftp"])
    assert "'just a string'" in one_problem("just a string")


def test_wrong_password_type_never_shows_the_value() -> None:
    problem = one_problem(minimal(networkpassword=123456789))
    assert "networkpassword" in problem
    assert "<hidden>" in problem
    assert "123456789" not in problem


def test_arista_requires_network_url() -> None:
    problem = one_problem(arista(network_url=""))
    assert "network_url" in problem
    assert "''" in problem
    assert "arista" in problem


def test_arista_requires_every_node_mapped_and_reports_them_compressed() -> None:
    problem = one_problem(
        minimal(
            network="arista",
            vlan_min=100,
            vlan_max=199,
            network_url="a:80/x",
            node_map={"kn1": "Et1/1", "kn5": "Et1/5"},
        )
    )
    assert problem.startswith("node_map: no switch port for kn[2-4,6-16]")


def test_arista_config_loads_and_node_map_keys_are_canonical() -> None:
    config = parse_config(
        arista(padlen=2, node_map={"kn1": "Et1", "kn02": "Et2", "kn3": "Et3", "kn04": "Et4"})
    )
    assert dict(config.node_map) == {"kn01": "Et1", "kn02": "Et2", "kn03": "Et3", "kn04": "Et4"}


def test_node_map_spellings_of_the_same_node_collide() -> None:
    problem = one_problem(minimal(padlen=3, node_map={"kn1": "Et1", "kn001": "Et2"}))
    assert "'kn1'" in problem
    assert "'kn001'" in problem


def test_node_map_is_not_checked_for_coverage_without_arista() -> None:
    config = parse_config(minimal(node_map={"kn1": "Et1/1", "kn99": "Et1/99"}, vlan_min=10, vlan_max=20))
    assert config.node_map["kn99"] == "Et1/99"


# --- all problems at once ----------------------------------------------------------------------------


def test_all_problems_are_reported_together() -> None:
    data = {
        "tftproot": "tftp",  # relative
        "prefix": "kn",
        "start": True,  # bool is not an int
        "end": 16,
        "rackwidht": 4,  # typo
        "timelimit": -10,  # negative
        "timezone": "Nowhere/Land",  # not a zone
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, path="/etc/igor.conf")
    problems = info.value.problems
    assert len(problems) == 5, problems
    assert info.value.message.startswith("/etc/igor.conf: 5 problem(s) in config")
    for problem in problems:
        assert f"  - {problem}" in str(info.value)
    joined = "\n".join(problems)
    for key in ("tftproot", "start", "rackwidht", "timelimit", "timezone"):
        assert key in joined


# --- accepted configs, defaults and shapes -----------------------------------------------------------


def test_defaults_are_classic_zero_values_plus_rack_geometry() -> None:
    config = parse_config({"tftproot": "/srv/tftp"})
    assert config.path == "<memory>"
    assert (config.prefix, config.start, config.end, config.padlen) == ("", 0, 0, 0)
    assert (config.rackwidth, config.rackheight) == (8, 4)
    assert config.statedir == "/var/lib/igor"  # private state out of the TFTP root
    assert config.contentdir == "/srv/tftp/igor/content"  # what nodes fetch stays in it
    assert config.clockstepminutes == 10
    assert config.logfile == ""
    assert config.limits == Limits(nodelimit=0, timelimit=0, extendwithin=0)
    assert (config.expirationleadtime, config.concurrencylimit, config.commandretries) == (0, 0, 0)
    assert config.usecobbler is False
    assert config.autoreboot is False
    assert config.cobblerdefaultprofile == config.poweroncommand == config.poweroffcommand == ""
    assert (config.network, config.vlan_min, config.vlan_max) == ("", 0, 0)
    assert config.networkuser == config.networkpassword == config.network_url == ""
    assert config.dnsserver == config.domain == config.pause == ""
    assert dict(config.node_map) == {}
    assert dict(config.hosts) == {}
    assert config.admins == ()
    assert config.timezone == system_timezone()


def test_properties() -> None:
    config = parse_config(minimal(padlen=2, nodelimit=8, timelimit=60, extendwithin=30, timezone="UTC"))
    assert config.naming.describe() == "kn[01-16]"
    assert config.naming.all()[0] == "kn01"
    assert config.tz is UTC  # shows every instant as zoneinfo's UTC does: see the test below
    assert parse_config(minimal(timezone="Europe/Berlin")).tz == zoneinfo.ZoneInfo("Europe/Berlin")
    assert config.limits == Limits(nodelimit=8, timelimit=60, extendwithin=30)


def test_keys_match_case_insensitively_and_problems_use_the_written_spelling() -> None:
    config = parse_config(
        {
            "TFTPRoot": "/tftpboot",
            "Prefix": "kn",
            "START": 1,
            "End": 3,
            "VLAN_Min": 5,
            "Vlan_Max": 9,
            "NodeLimit": 2,
        }
    )
    assert (config.tftproot, config.prefix, config.start, config.end) == ("/tftpboot", "kn", 1, 3)
    assert (config.vlan_min, config.vlan_max, config.nodelimit) == (5, 9, 2)
    assert one_problem(minimal(RackWidth=0)).startswith("RackWidth: 0")


def test_comment_keys_and_advanced_are_ignored() -> None:
    config = parse_config(minimal(**{"#": "hello", "#tftproot": ["any", "value"], "advanced": {"x": 1}}))
    assert config.tftproot == "/srv/tftp"


def test_vlan_pool_without_network_is_accepted() -> None:
    assert parse_config(minimal(vlan_min=1000, vlan_max=2000)).vlan_max == 2000
    assert parse_config(minimal(vlan_min=1, vlan_max=4094)).vlan_min == 1


def test_end_beyond_padding_and_single_node_clusters_are_fine() -> None:
    assert parse_config(minimal(padlen=1, end=520)).end == 520
    assert parse_config(minimal(start=0, end=0)).naming.all() == ("kn0",)


def test_cobbler_with_profile_is_accepted() -> None:
    config = parse_config(minimal(usecobbler=True, cobblerdefaultprofile="centos-default"))
    assert config.usecobbler is True


def test_hosts_are_normalised_and_keyed_by_canonical_name() -> None:
    config = parse_config(
        minimal(
            padlen=3,
            hosts={
                "kn1": {"ip": "127.0.0.1", "mac": "52-54-00-AB-CD-EF"},
                "kn002": {"MAC": "52:54:00:00:00:02"},
                "kn3": {"ip": "127.0.0.3"},
                "kn4": {},
            },
        )
    )
    assert dict(config.hosts) == {
        "kn001": HostAddress(ip="127.0.0.1", mac="52:54:00:ab:cd:ef"),
        "kn002": HostAddress(mac="52:54:00:00:00:02"),
        "kn003": HostAddress(ip="127.0.0.3"),
        "kn004": HostAddress(),
    }


def test_admins_keep_users_and_groups_in_order() -> None:
    assert parse_config(minimal(admins=["ops", "%wheel", "alice"])).admins == ("ops", "%wheel", "alice")


def test_config_is_really_read_only() -> None:
    source_map = {"kn1": "Et1/1"}
    config = parse_config(minimal(node_map=source_map, hosts={"kn1": {"ip": "127.0.0.1"}}))
    assert isinstance(config.node_map, types.MappingProxyType)
    assert isinstance(config.hosts, types.MappingProxyType)
    node_map: Mapping[str, str] = config.node_map
    with pytest.raises(TypeError):
        node_map["kn2"] = "Et1/2"  # type: ignore[index]
    with pytest.raises(TypeError):
        config.hosts["kn2"] = HostAddress()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.prefix = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hosts["kn1"].ip = "127.0.0.9"
    source_map["kn3"] = "Et1/3"
    assert "kn3" not in config.node_map


def test_classic_sample_config_loads_unchanged(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "igor.conf", CLASSIC_SAMPLE, 0o600))
    for key, value in CLASSIC_SAMPLE.items():
        got = getattr(config, key)
        assert (dict(got) if isinstance(got, Mapping) else got) == value, key
    assert config.statedir == "/var/lib/igor"
    assert config.contentdir == "/tftpboot/igor/content"  # where classic kept its copies
    assert config.naming.all() == ("kn1", "kn2", "kn3", "kn4", "kn5")


# --- config_path ------------------------------------------------------------------------------------


def test_config_path_precedence() -> None:
    env = {"IGOR_CONFIG": "/env/igor.conf"}
    assert config_path("/cli/igor.conf", env) == "/cli/igor.conf"
    assert config_path(None, env) == "/env/igor.conf"
    assert config_path(None, {}) == DEFAULT_CONFIG_PATH == "/etc/igor.conf"
    assert config_path("", {"IGOR_CONFIG": ""}) == DEFAULT_CONFIG_PATH


# --- files -------------------------------------------------------------------------------------------


def test_world_readable_password_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "igor.conf", minimal(networkuser="admin", networkpassword="s3cret"), 0o644)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == (
        f"networkpassword: config holds the switch password but is world-readable (mode 0644): "
        f"run chmod 600 {path}",
    )
    assert "s3cret" not in str(info.value)
    os.chmod(path, 0o600)
    assert load_config(path).networkpassword == "s3cret"


def test_world_readable_without_password_is_fine(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "igor.conf", minimal(), 0o644)).prefix == "kn"


def test_file_mode_none_skips_the_permission_checks() -> None:
    assert parse_config(minimal(networkpassword="pw"), file_mode=None).networkpassword == "pw"
    assert "world-readable" in one_problem(minimal(networkpassword="pw"), file_mode=0o100604)


def test_world_writable_config_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "igor.conf", minimal(), 0o666)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ()
    assert str(info.value).startswith(f"config {path} refused: it is world-writable (mode 0666)")


@pytest.mark.parametrize("mode", [0o620, 0o660, 0o664])
def test_group_writable_config_is_refused(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path / "igor.conf", minimal(), mode)
    with pytest.raises(ConfigError, match=rf"refused: it is group-writable \(mode 0{mode:o}\)"):
        load_config(path)


def test_power_template_with_an_unbalanced_quote_is_a_config_error() -> None:
    problem = one_problem(minimal(poweroncommand="ipmitool -H '%s chassis power on"))
    assert problem.startswith("poweroncommand: ")
    assert "cannot be split into a command (No closing quotation)" in problem


def test_pause_is_one_line() -> None:
    problem = one_problem(minimal(pause="maintenance\nuntil Monday"))
    assert problem.startswith("pause: ")
    assert "one line of printable text" in problem


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.conf"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f"config file {path} not found (use --config PATH or IGOR_CONFIG)"
    assert info.value.exit_code == 2


def test_unreadable_file_explains_the_wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "igor.conf", minimal())

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", path)

    # Tests may run as root, where chmod 000 does not stop reading, so the refusal is simulated.
    monkeypatch.setattr("igor_tui.trust._open_config", denied)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert path in message
    assert "igor service user" in message
    assert "wrapper" in message
    assert "sudo" in message


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(str(tmp_path))


def test_invalid_json_names_path_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "igor.conf", '{\n  "tftproot": "/srv/tftp",\n  "prefix": "kn"\n  "start": 1\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: 1 problem(s) in config")
    assert info.value.problems == ("invalid JSON at line 4 column 3: Expecting ',' delimiter",)


def test_top_level_not_an_object_in_a_file(tmp_path: Path) -> None:
    path = write(tmp_path / "igor.conf", "[1, 2]")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert path in str(info.value)
    assert "top level" in info.value.problems[0]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "igor.conf"
    path.write_bytes(b'{"prefix": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(str(path))


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_leading_bom_is_dropped_and_bad_bytes_are_placed_as_utf8_sig_places_them(
    tmp_path: Path, bom: bytes
) -> None:
    """Editors on other systems write a BOM: it is read as the utf-8-sig codec reads it (config decodes
    without that codec's module), and a bad byte is reported at the offset that codec gives."""
    path = tmp_path / "igor.conf"
    path.write_bytes(bom + json.dumps(minimal()).encode())
    path.chmod(0o600)
    assert load_config(str(path)).prefix == minimal()["prefix"]
    bad = bom + b'{"prefix": "\xff"}'
    path.write_bytes(bad)
    with pytest.raises(UnicodeDecodeError) as codec:
        bad.decode("utf-8-sig")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.problems == (f"not UTF-8 text (byte {codec.value.start}): {codec.value.reason}",)


def test_duplicate_key_in_file_is_reported(tmp_path: Path) -> None:
    text = '{"#": 1, "#": 2, "tftproot": "/a", "tftproot": "/b", "node_map": {"kn1": "x", "kn1": "y"}}'
    path = write(tmp_path / "igor.conf", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == (
        "key 'tftproot' appears twice; JSON keeps only the last value",
        "node_map: key 'kn1' appears twice; JSON keeps only the last value",
    )


# --- the shipped example ----------------------------------------------------------------------------


def test_example_loads() -> None:
    config = load_config(str(EXAMPLE))
    assert config.naming.describe() == "kn[1-16]"
    assert (config.rackwidth, config.rackheight, config.tftproot) == (8, 2, "/srv/tftp")
    assert (config.network, config.vlan_min, config.vlan_max) == ("", 0, 0)
    assert (config.timelimit, config.nodelimit, config.logfile) == (4320, 50, "/var/log/igor/log")
    # the entry igor.conf.example documents (the example); a string, never contacted
    assert config.hosts["kn1"] == HostAddress(ip="10.0.0.1", mac="52:54:00:00:00:01")  # example
    assert config.admins == ("ops", "%wheel")


def test_example_documents_every_key_right_above_it() -> None:
    pairs: list[tuple[str, object]] = json.loads(EXAMPLE.read_text(encoding="utf-8"), object_pairs_hook=list)
    keys = [key for key, _ in pairs]
    for key in CONFIG_KEYS:
        assert key in keys, key
        at = keys.index(key)
        assert keys[at - 1] == f"#{key}", key
        comment = pairs[at - 1][1]
        assert isinstance(comment, str)
        assert comment


@pytest.mark.parametrize("name", sorted(UTC_NAMES))
def test_utc_names_show_every_instant_as_zoneinfo_does(name: str) -> None:
    """`timezone = UTC` (or a machine whose zone is Etc/UTC) gets datetime.UTC, not zoneinfo's copy, so no
    command imports zoneinfo: the two must read every instant the same (offset, name, fixed offset, the
    date policy's texts), including instants around leap seconds and the far past and future."""
    if not zone_available(name):
        pytest.skip(f"no tz database entry {name}")
    ours, theirs = load_zone(name), zoneinfo.ZoneInfo(name)
    assert ours is UTC
    assert zone_ok(name)
    now = datetime(2026, 12, 3, 7, 23, tzinfo=UTC)
    instants = [datetime(1970, 1, 1, tzinfo=UTC), datetime(2016, 12, 31, 23, 59, tzinfo=UTC)]
    instants += [now + timedelta(hours=37 * k) for k in range(-300, 300)]
    instants.append(datetime(2400, 2, 29, 12, tzinfo=UTC))
    for when in instants:
        a, b = when.astimezone(ours), when.astimezone(theirs)
        assert (a.utcoffset(), a.tzname(), a.replace(tzinfo=None)) == (
            b.utcoffset(),
            b.tzname(),
            b.replace(tzinfo=None),
        )
        assert when_zone(when, ours, now) == when_zone(when, theirs, now)
        assert span_text(when, when + timedelta(hours=1), ours, now) == span_text(
            when, when + timedelta(hours=1), theirs, now
        )


def test_other_zones_still_load_through_zoneinfo() -> None:
    assert not zone_ok("Not/AZone")
    assert not zone_ok("")
    if zone_available("Europe/Berlin"):
        assert zone_ok("Europe/Berlin")
        assert load_zone("Europe/Berlin") == zoneinfo.ZoneInfo("Europe/Berlin")


# --- system_timezone --------------------------------------------------------------------------------


def test_system_timezone_is_loadable() -> None:
    assert zone_available(system_timezone())


@pytest.mark.skipif(not zone_available("Europe/Berlin"), reason="no tz database")
def test_system_timezone_sources_in_order(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "missing")
    etc_tz = tmp_path / "timezone"
    etc_tz.write_text("America/Denver\n", encoding="utf-8")
    localtime = tmp_path / "localtime"
    localtime.symlink_to("/usr/share/zoneinfo/Asia/Tokyo")

    def tz(env: dict[str, str], etc: str = nowhere, local: str = nowhere) -> str:
        return system_timezone(env=env, etc_timezone=etc, localtime=local)

    assert tz({"TZ": "Europe/Berlin"}, str(etc_tz), str(localtime)) == "Europe/Berlin"
    assert tz({"TZ": ":Europe/Berlin"}) == "Europe/Berlin"
    assert tz({"TZ": "/usr/share/zoneinfo/Europe/Berlin"}) == "Europe/Berlin"
    assert tz({"TZ": "Not/AZone"}, str(etc_tz), str(localtime)) == "America/Denver"
    assert tz({}, nowhere, str(localtime)) == "Asia/Tokyo"
    assert tz({}) == "UTC"


# --- bootmode ---------------------------------------------------------------------------------------


def test_bootmode_defaults_to_bios_for_every_node() -> None:
    config = parse_config(minimal())
    assert config.bootmode == frozenset()
    assert {config.boot_mode(n) for n in config.naming.all()} == {"bios"}


def test_bootmode_uefi_makes_every_node_uefi_and_bios_none() -> None:
    assert parse_config(minimal(bootmode="uefi")).bootmode == frozenset(f"kn{i}" for i in range(1, 17))
    assert parse_config(minimal(bootmode="bios")).bootmode == frozenset()


def test_bootmode_map_sets_ranges_and_leaves_the_rest_bios() -> None:
    config = parse_config(minimal(bootmode={"kn[1-4]": "uefi", "kn[5-8],kn10": "bios", "kn12": "uefi"}))
    assert config.bootmode == frozenset({"kn1", "kn2", "kn3", "kn4", "kn12"})
    assert (config.boot_mode("kn4"), config.boot_mode("kn5"), config.boot_mode("kn16")) == (
        "uefi",
        "bios",
        "bios",
    )


def test_bootmode_map_uses_canonical_names_on_a_padded_cluster() -> None:
    config = parse_config(minimal(padlen=3, bootmode={"kn[1-2]": "uefi"}))
    assert config.bootmode == frozenset({"kn001", "kn002"})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("UEFI", "bootmode: 'UEFI' is not a boot mode; expected 'bios' (default), 'uefi', or an object"),
        ("efi", "bootmode: 'efi' is not a boot mode"),
        (1, "bootmode: expected a string or an object"),
        (["uefi"], "bootmode: expected a string or an object"),
        ({"kn1": "legacy"}, "bootmode['kn1']: 'legacy' is not a boot mode; expected 'bios' or 'uefi'"),
        ({"kn1": 1}, "bootmode['kn1']: 1 is not a boot mode"),
        ({"kn[1-4]": "uefi", "kn[4-6]": "bios"}, "bootmode['kn[4-6]']: overlaps 'kn[1-4]' on kn4; each node"),
        ({"kn[1-2]": "uefi", "kn2": "uefi"}, "bootmode['kn2']: overlaps 'kn[1-2]' on kn2"),
        ({"kn[15-17]": "uefi"}, "bootmode['kn[15-17]']: bad node list 'kn[15-17]': kn17 is not a node of"),
        ({"xy1": "uefi"}, "bootmode['xy1']: bad node list 'xy1': 'xy1' does not start with the node prefix"),
        ({"": "uefi"}, "bootmode['']: bad node list '': it is empty"),
    ],
)
def test_bad_bootmode_is_one_problem_naming_the_key_and_value(value: object, problem: str) -> None:
    found = problems_of(minimal(bootmode=value))
    assert len(found) == 1, found
    assert found[0].startswith(problem), found


def test_bootmode_problems_are_collected_with_the_others() -> None:
    found = problems_of(minimal(bootmode={"kn1": "efi", "kn99": "uefi"}, rackwidth=0))
    assert len(found) == 3, found
    assert any(p.startswith("BootMode['kn1']") for p in problems_of(minimal(BootMode={"kn1": "efi"})))


def test_the_prefix_rule_is_the_pattern_it_replaced() -> None:
    """sections checks the prefix against a set of characters instead of compiling `[A-Za-z0-9._-]*`
    on every command: the same answer for every character up to U+2FFF (non-ASCII digits and letters
    included) and for the empty prefix."""
    import re

    from igor_tui.config.sections import _PREFIX_CHARS

    pattern = re.compile(r"[A-Za-z0-9._-]*")
    for text in ["", "kn", "kn-01.a_b", *(chr(c) for c in range(0x3000)), "kn\n", "k n"]:
        assert _PREFIX_CHARS.issuperset(text) == bool(pattern.fullmatch(text)), repr(text)
