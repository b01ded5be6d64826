"""Read igor.conf (classic igor's JSON keys plus igor-tui's own) into one validated, frozen Config.

How it is built, and why this shape:

- `keys.py` is the one table of keys: for each its JSON kind, default, range or choices, section, the short
  description problems quote and the long one igor.conf.example and the README show
  (`scripts/config_docs.py` writes both from it). `reader.Reader` applies the table's rules to every key.
- The sections (`sections.py`, `network.py`, `boot.py`, `mail.py`) are small frozen values, one per
  concern (paths, naming, rack, policy, tick, power, Cobbler, network, boot, liveness, mail). Their field
  defaults come from the table; each `from_section()` reads its fields and adds only the cross-field
  rules one table row cannot express. All problems go into one list and are reported together.
- `Config` inherits every section. The classic key names stay flat attributes (`config.tftproot`,
  `config.poweroncommand`), so `Config(...)`, `replace(config, ...)` and the ~180 uses across igor keep
  working unchanged. Nesting (`config.power.timeout`) was not an option: `power`, `network`, `notify` and
  `liveness` are themselves keys. A function that needs one concern can ask for that section's type
  (a Config is a PowerSettings). The classes are made by igor_tui.values, which handles this inheritance
  without importing `dataclasses` (~7 ms on every `igor` run).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping

from igor_tui.errors import ConfigError
from igor_tui.values import dataclass, field_names, from_fields

from ..typenames import TYPE_CHECKING
from .boot import BootSettings, HostAddress
from .hooks import HookSettings
from .keys import BY_NAME
from .mail import MailSettings
from .network import HIGHEST_VLAN, SUPPORTED_NETWORKS, NetworkSettings
from .reader import Reader, json_type, show
from .sections import (
    MAX_NODES,
    CobblerSettings,
    LivenessSettings,
    NamingSettings,
    PathSettings,
    PolicySettings,
    PowerSettings,
    RackSettings,
    TickSettings,
    legacy_statedir,
)
from .sharing import Quota, SharingSettings
from .zones import system_timezone

if TYPE_CHECKING:
    from typing import Any, Self

    from igor_tui.hostlist import NodeNaming
    from igor_tui.trust import Principal

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CLOCK_STEP_MINUTES",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_RACKHEIGHT",
    "DEFAULT_RACKWIDTH",
    "DEFAULT_STATEDIR",
    "HIGHEST_VLAN",
    "MAX_NODES",
    "SUPPORTED_NETWORKS",
    "Config",
    "HostAddress",
    "Quota",
    "config_path",
    "legacy_statedir",
    "load_config",
    "parse_config",
    "system_timezone",
]

DEFAULT_CONFIG_PATH = "/etc/igor.conf"
CONFIG_ENV = "IGOR_CONFIG"
DEFAULT_RACKWIDTH: int = BY_NAME["rackwidth"].default
DEFAULT_RACKHEIGHT: int = BY_NAME["rackheight"].default
DEFAULT_STATEDIR: str = BY_NAME["statedir"].default
"""Private state (the store, its lock, the tick's state, the archive): writable by the service user only,
and outside the TFTP root, which any node (and anyone on the boot network) may read."""
DEFAULT_CLOCK_STEP_MINUTES: int = BY_NAME["clockstepminutes"].default
_SECRETS = (
    ("networkpassword", "the switch password"),
    ("powersshpassword", "the power SSH password"),
    ("cobblerpassword", "the Cobbler password"),
)


@dataclass(frozen=True)
class Config(
    PathSettings,
    NamingSettings,
    RackSettings,
    PolicySettings,
    TickSettings,
    PowerSettings,
    CobblerSettings,
    NetworkSettings,
    BootSettings,
    LivenessSettings,
    MailSettings,
    HookSettings,
    SharingSettings,
):
    """Everything igor.conf says, validated once so no later code has to re-check or guess a default."""

    path: str = "<memory>"

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None, path: str = "<memory>") -> Self:
        """Every section from the one Reader (so every problem lands in one list), in the order their
        problems are listed. `naming` is ignored: the sections that name nodes get the names the naming
        section makes from this file."""
        paths = PathSettings.from_section(sec)
        names = NamingSettings.from_section(sec)
        naming = names.checked_naming(sec)
        parts = (
            paths,
            names,
            RackSettings.from_section(sec),
            PowerSettings.from_section(sec),
            CobblerSettings.from_section(sec),
            NetworkSettings.from_section(sec, naming),
            TickSettings.from_section(sec),
            LivenessSettings.from_section(sec),
            MailSettings.from_section(sec),
            HookSettings.from_section(sec),
            BootSettings.from_section(sec, naming),
            PolicySettings.from_section(sec),
            SharingSettings.from_section(sec, naming),
        )
        fields: dict[str, Any] = {}
        for part in parts:
            fields.update((name, getattr(part, name)) for name in field_names(type(part)))
        return from_fields(cls, {**fields, "path": path})


def config_path(cli_value: str | None, env: Mapping[str, str]) -> str:
    """Pick the config file: --config wins, then $IGOR_CONFIG, then /etc/igor.conf (empty means unset)."""
    if cli_value:
        return cli_value
    from_env = env.get(CONFIG_ENV, "")
    if from_env:
        return from_env
    return DEFAULT_CONFIG_PATH


def parse_config(data: object, *, path: str = "<memory>", file_mode: int | None = None) -> Config:
    """Validate parsed igor.conf JSON and build a Config, raising one ConfigError that lists every problem.

    Pure apart from looking up the system zone when `timezone` is not set. `file_mode` is the file's
    permission bits (None when unknown) and is only used to refuse a world-readable switch password.
    """
    return _build(data, path=path, file_mode=file_mode, problems=[])


def _build(data: object, *, path: str, file_mode: int | None, problems: list[str]) -> Config:
    """parse_config, starting from problems load_config already found (duplicate keys)."""
    if not isinstance(data, Mapping):
        problems.append(
            f"top level: expected a JSON object {{...}}, got {show('', data)} ({json_type(data)})"
        )
        raise ConfigError(f"{path}: {len(problems)} problem(s) in config", problems=tuple(problems))
    sec = Reader(data, BY_NAME, problems)
    config = Config.from_section(sec, path=path)
    if file_mode is not None:
        _check_file_mode(sec, file_mode, path)
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s) in config", problems=tuple(problems))
    return config


def _check_file_mode(sec: Reader, file_mode: int, path: str) -> None:
    """Secrets need a file others cannot read; a file others can write would let them run commands."""
    mode = f"{stat.S_IMODE(file_mode):04o}"
    for secret, what in _SECRETS:
        if sec.text(secret) and file_mode & stat.S_IROTH:
            sec.add(
                f"{sec.name(secret)}: config holds {what} but is world-readable (mode {mode}): "
                f"run chmod 600 {path}"
            )
    if file_mode & stat.S_IWOTH:
        sec.add(
            f"file mode: config is world-writable (mode {mode}), so anyone could change "
            f"poweroncommand and run commands as igor: run chmod 600 {path}"
        )


class _JsonObject(dict[str, object]):
    """A decoded JSON object that remembers keys given twice: json keeps only the last, silently, so an
    admin editing the first copy would see no effect."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, object]]) -> _JsonObject:
        """json.loads object_pairs_hook: sees every key in file order, before json drops the repeats."""
        obj = cls()
        duplicates: list[str] = []
        for key, value in pairs:
            if key in obj and not key.startswith("#"):
                duplicates.append(key)
            obj[key] = value
        obj.duplicates = tuple(duplicates)
        return obj


_CONTAINERS = (_JsonObject, list)


def _duplicates(value: object, where: str) -> list[str]:
    """One problem per repeated key anywhere in the file, named by where it is (node_map, hosts['kn1'])."""
    found: list[str] = []
    if isinstance(value, _JsonObject):
        prefix = f"{where}: " if where else ""
        found.extend(
            f"{prefix}key {key!r} appears twice; JSON keeps only the last value" for key in value.duplicates
        )
        for key, child in value.items():
            if isinstance(child, _CONTAINERS):  # only these can hold a repeated key: no name for the rest
                found.extend(_duplicates(child, f"{where}[{key!r}]" if where else key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            if isinstance(child, _CONTAINERS):
                found.extend(_duplicates(child, f"{where}[{i}]"))
    return found


def load_config(path: str, who: Principal | None = None) -> Config:
    """Read and validate the config file; every failure, including I/O, becomes one ConfigError.

    `who` is the person igor acts for (trust.principal); a config they could have written is refused
    before anything in it is used. None means the process itself (tests, doctor run by an admin)."""
    from igor_tui.trust import own_principal, read_config

    raw, st = read_config(path, own_principal() if who is None else who)

    header = f"{path}: 1 problem(s) in config"
    try:
        # utf-8-sig's decoding (a leading BOM dropped; error offsets past it, as that codec reports
        # them) without loading its codec module on every run
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(header, problems=(f"not UTF-8 text (byte {err.start}): {err.reason}",)) from None
    try:
        data = json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
    except json.JSONDecodeError as err:
        raise ConfigError(
            header, problems=(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}",)
        ) from None
    except RecursionError:
        raise ConfigError(header, problems=("invalid JSON: nested too deeply",)) from None
    return _build(data, path=path, file_mode=st.st_mode, problems=_duplicates(data, ""))
