"""`igor setup`: install igor-tui on a head node (or into another root), step by step, idempotently.

Classic igor's setup.sh echoed its plan and then ran it; it left pxelinux.cfg unwritable, installed an
unquoted wrapper and checked nothing (spec §9, §11.24). Here every step knows how to tell whether it is
already in place, so the plan shows only what would change, a second run changes nothing, and each step
is verified after it runs. Nothing here reads /etc/igor.conf: setup is what writes it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from ..config import DEFAULT_STATEDIR, legacy_statedir
from ..errors import ConfigError, IgorError, UsageError
from .deploy import (
    CONFIG_PATH,
    CRON_PATH,
    DEFAULT_PREFIX,
    DEFAULT_USER,
    LOG_DIR,
    PXELINUX_FILES,
    SUDOERS_PATH,
    SYSTEMD_DIR,
    TIMER_WANTS,
    Root,
    Step,
    find_account,
    lib_dir,
    read_data,
    render_contrib,
)
from .setup_move import config_statedir_step, move_store_step
from .setup_steps import (
    Owner,
    directory_step,
    file_step,
    find_command,
    makedirs,
    root_owner,
    symlink_step,
    user_owner,
)

USERADD_ENV = "IGOR_SETUP_USERADD"
"""The useradd command (shlex-split). Packagers and the tests point it elsewhere; it gets useradd's own
arguments, including `--root ALTROOT` with --root."""
VISUDO_ENV = "IGOR_SETUP_VISUDO"
"""The visudo command used to validate the sudo rule before it is put in place (default: found on PATH)."""

_SECRET_LINE = re.compile(r'("(?:networkpassword|powersshpassword|cobblerpassword)"\s*:\s*)"[^"]+"', re.I)
_NODES = re.compile(r"([A-Za-z0-9._-]*)\[(\d+)-(\d+)\]")


@dataclass(frozen=True, slots=True)
class SetupOptions:
    """The admin's answers; every path is the installed system's path, whatever --root is."""

    tftproot: str
    cobbler: bool = False
    cobbler_profile: str = ""
    user: str = DEFAULT_USER
    prefix: str = DEFAULT_PREFIX
    root: str = "/"
    timer: str = "cron"
    nodes: str = ""
    uefi: bool = False  # some or all nodes boot UEFI: lay out igor's GRUB image and grub/

    @property
    def statedir(self) -> str:
        """Private state, out of the TFTP root (see statedir.py)."""
        return DEFAULT_STATEDIR

    @property
    def old_statedir(self) -> str:
        """Where earlier installs kept the store: inside the TFTP root, served to every node."""
        return legacy_statedir(self.tftproot)

    @property
    def contentdir(self) -> str:
        return os.path.join(self.old_statedir, "content")

    def check(self) -> None:
        """Refuse answers that would produce a broken install, before anything is printed as a plan."""
        for flag, value in (("--tftproot", self.tftproot), ("--prefix", self.prefix), ("--root", self.root)):
            if not os.path.isabs(value):
                raise UsageError(f"setup: {flag} {value!r} is not an absolute path")
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", self.user):
            raise UsageError(f"setup: --user {self.user!r} is not a valid user name (a-z, 0-9, _ and -)")
        if self.timer not in ("cron", "systemd"):
            raise UsageError(f"setup: --timer {self.timer!r}: expected cron or systemd")
        if self.cobbler and not self.cobbler_profile:
            raise UsageError(
                "setup: --cobbler needs --cobbler-profile PROFILE, the Cobbler profile nodes return to "
                "when a reservation ends"
            )
        if self.uefi and self.cobbler:
            raise UsageError(
                "setup: --uefi is for plain PXE; with --cobbler, Cobbler serves UEFI nodes itself"
            )
        if self.cobbler_profile and not self.cobbler:
            raise UsageError("setup: --cobbler-profile is only used with --cobbler")
        if self.nodes and not _NODES.fullmatch(self.nodes):
            raise UsageError(f"setup: --nodes {self.nodes!r}: expected PREFIX[FIRST-LAST], e.g. kn[1-64]")


# --------------------------------------------------------------------------------------- the config


def node_keys(nodes: str) -> dict[str, object]:
    """`kn[001-520]` -> prefix/start/end/padlen (leading zeros in the first number set the padding)."""
    match = _NODES.fullmatch(nodes)
    if match is None:
        return {}
    first, last = match.group(2), match.group(3)
    padlen = len(first) if first.startswith("0") and len(first) > 1 else 0
    return {"prefix": match.group(1), "start": int(first), "end": int(last), "padlen": padlen}


def render_config(opts: SetupOptions) -> str:
    """igor.conf.example with this install's answers, its comments kept beside their keys.

    The example's site-specific samples (power commands for a `powerbot`, a host, admins) are emptied: a
    fresh install has no power control and no extra admins until the admin says so, rather than
    commands that do not exist and a %wheel that may hold people who should not be igor admins."""
    data = json.loads(read_data("igor.conf.example"))
    answers: dict[str, object] = {
        "tftproot": opts.tftproot,
        "statedir": opts.statedir,
        "contentdir": opts.contentdir,
        "logfile": f"{LOG_DIR}/log",
        "usecobbler": opts.cobbler,
        "cobblerdefaultprofile": opts.cobbler_profile,
        "poweroncommand": "",
        "poweroffcommand": "",
        "hosts": {},
        "admins": [],
        "timezone": "",
        "bootmode": "uefi" if opts.uefi else "bios",
        **node_keys(opts.nodes),
    }
    for key, value in answers.items():
        if key not in data:
            raise IgorError(f"igor.conf.example has no key {key!r}; setup and the example disagree")
        data[key] = value
    from ..config import parse_config
    from ..config.docs import commented_json

    text = commented_json(list(data.items()))

    try:
        parse_config(json.loads(text), path=CONFIG_PATH)
    except ConfigError as err:
        raise IgorError(f"setup would write an invalid config: {err}") from None
    return text


def config_diff(existing: str, wanted: str, path: str) -> str:
    """What setup would have written, as a diff against the admin's file, with passwords masked."""
    mask = [_SECRET_LINE.sub(r'\1"<hidden>"', line) for line in existing.splitlines(keepends=True)]
    diff = difflib.unified_diff(
        mask, wanted.splitlines(keepends=True), fromfile=f"{path} (yours, kept)", tofile="igor setup's"
    )
    return "".join(diff)


# ----------------------------------------------------------------------------------------- primitives


# ------------------------------------------------------------------------------------------ the plan


def plan(opts: SetupOptions, env: Mapping[str, str]) -> list[Step]:
    """Every step of an install with these answers, in the order they must run."""
    opts.check()
    root = Root(opts.root)
    target = _Target(opts, root, user_owner(root, opts.user))
    return [
        _user_step(target, env),
        *_directory_steps(target),
        *_boot_file_steps(target),
        *_config_steps(target),
        *_tick_steps(target, env),
        _sudo_step(target, env),
        *_wrapper_steps(target),
    ]


@dataclass(frozen=True, slots=True)
class _Target:
    """Where and as whom the plan installs: what every step builder below needs."""

    opts: SetupOptions
    root: Root
    mine: Owner  # the service user, looked up when a step runs (the first step may create it)

    @property
    def render(self) -> dict[str, str]:
        """The placeholders of the contrib templates (cron line, units, sudo rule, wrapper)."""
        return {"user": self.opts.user, "prefix": self.opts.prefix}

    def owned_dir(self, path: str, why: str) -> Step:
        """A directory the service user owns, mode 0755 (it writes there; the TFTP server reads)."""
        user = self.opts.user
        return directory_step(self.root, path, self.mine, f"{user}:{user}", mode=0o755, why=why)

    def root_file(
        self, path: str, data: bytes, mode: int, why: str = "", validate: Callable[[str], None] | None = None
    ) -> Step:
        """A file only root may change: what runs as root or as the service user must not be theirs."""
        return file_step(
            self.root, path, data, root_owner, "root:root", mode=mode, why=why, validate=validate
        )


def _user_step(target: _Target, env: Mapping[str, str]) -> Step:
    """1. The service user: it alone reads the config (switch password) and writes the store."""
    opts, root, user = target.opts, target.root, target.opts.user
    useradd = find_command("useradd", env, USERADD_ENV)
    args = ["--system", "--user-group", "--home-dir", opts.statedir, "--no-create-home"]
    args += ["--shell", "/usr/sbin/nologin", *(["--root", str(root)] if not root.is_system else []), user]

    def add_user() -> None:
        assert useradd is not None
        proc = subprocess.run(
            [*useradd, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip().splitlines()
            raise IgorError(
                f"setup: useradd {user} failed (exit {proc.returncode}): {why[-1] if why else 'no output'}"
            )

    return Step(
        f"service user {user}: useradd {shlex.join(args)}",
        lambda: find_account(root, user) is not None,
        add_user,
        blocked="" if useradd else "useradd not found (Debian package passwd): create the user yourself",
    )


def _directory_steps(target: _Target) -> list[Step]:
    """2. Directories. pxelinux.cfg is the one classic setup.sh forgot (igor could not write boot files)."""
    opts, root = target.opts, target.root

    def make_tftproot() -> None:
        makedirs(root(opts.tftproot))
        os.chmod(root(opts.tftproot), 0o755)  # a root umask of 077 would hide it from the TFTP server

    # An existing TFTP root may belong to the TFTP package or the admin: it is only created, never changed.
    steps = [
        Step(
            f"directory {opts.tftproot} (the TFTP root)",
            lambda: os.path.isdir(root(opts.tftproot)),
            make_tftproot,
        )
    ]
    if not opts.cobbler:
        cfg_dir = os.path.join(opts.tftproot, "pxelinux.cfg")
        steps.append(target.owned_dir(cfg_dir, " (igor-tick writes per-node boot files here)"))
    steps.append(
        target.owned_dir(opts.statedir, " (private: the store, its lock, the archive, igor-tick's state)")
    )
    steps.append(target.owned_dir(opts.old_statedir, " (igor's files the TFTP server serves)"))
    steps.append(target.owned_dir(opts.contentdir, " (copies of users' kernels and initrds, served by TFTP)"))
    steps.append(target.owned_dir(LOG_DIR, " (the action log)"))
    return steps


def _boot_file_steps(target: _Target) -> list[Step]:
    """3. PXELINUX itself, from the system's syslinux packages, and GRUB for UEFI (plain PXE only)."""
    opts, root = target.opts, target.root
    if opts.cobbler:
        return []
    steps: list[Step] = []
    for name, source in PXELINUX_FILES.items():
        found = next((p for p in (root(source), source) if os.path.isfile(p)), "")
        data = b""
        if found:
            with open(found, "rb") as handle:
                data = handle.read()
        step = target.root_file(os.path.join(opts.tftproot, name), data, 0o644, f" (copied from {source})")
        if not found:
            step.blocked = (
                f"{source} not found: apt-get install pxelinux syslinux-common, then run setup again"
            )
        steps.append(step)
    if opts.uefi:
        from .setup_grub import grub_steps

        steps.extend(grub_steps(opts.tftproot, root, target.owned_dir, target.root_file))
    return steps


def _config_steps(target: _Target) -> list[Step]:
    """4. The config: written once, never overwritten; a difference is shown, not applied."""
    opts, root = target.opts, target.root
    config_text = render_config(opts)
    config_step = file_step(
        root,
        CONFIG_PATH,
        config_text.encode(),
        target.mine,
        opts.user,
        mode=0o600,
        why=" (from igor.conf.example)",
    )
    real_config = root(CONFIG_PATH)
    if os.path.lexists(real_config):
        try:
            with open(real_config, encoding="utf-8", errors="replace") as text_handle:
                existing = text_handle.read()
        except OSError as err:
            existing = ""
            config_step.note = f"cannot read it ({err.strerror}); left alone"
        diff = config_diff(existing, config_text, CONFIG_PATH) if existing else ""
        config_step.what = f"config {CONFIG_PATH}: exists, kept as it is"
        config_step.is_done = lambda: True
        config_step.note = config_step.note or (diff and "it differs from what setup would write:\n" + diff)
    # Upgrades: the store leaves the TFTP root, and an existing config stops naming the old place.
    return [
        config_step,
        *move_store_step(root, opts.old_statedir, opts.statedir),
        *config_statedir_step(root, CONFIG_PATH, opts.old_statedir, opts.statedir),
    ]


def _tick_steps(target: _Target, env: Mapping[str, str]) -> list[Step]:
    """5. The per-minute tick: cron.d or a systemd timer."""
    root = target.root
    if target.opts.timer == "cron":
        cron = render_contrib("igor.cron", **target.render).encode()
        return [target.root_file(CRON_PATH, cron, 0o644, " (igor-tick every minute)")]
    steps: list[Step] = []
    for unit in ("igor-tick.service", "igor-tick.timer"):
        text = render_contrib(unit, **target.render).encode()
        steps.append(target.root_file(f"{SYSTEMD_DIR}/{unit}", text, 0o644))
    steps.append(symlink_step(root, TIMER_WANTS, f"{SYSTEMD_DIR}/igor-tick.timer", " (enables the timer)"))
    if root.is_system and os.path.isdir("/run/systemd/system"):
        steps.append(_start_timer(env))
    return steps


def _sudo_step(target: _Target, env: Mapping[str, str]) -> Step:
    """6. The sudo rule, validated by visudo before it can take effect."""
    visudo = find_command("visudo", env, VISUDO_ENV)
    sudoers = render_contrib("igor.sudoers", **target.render).encode()

    def validate(path: str) -> None:
        assert visudo is not None
        proc = subprocess.run([*visudo, "-c", "-f", path], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise IgorError(f"setup: visudo rejects the sudo rule: {(proc.stdout + proc.stderr).strip()}")

    sudo_step = target.root_file(SUDOERS_PATH, sudoers, 0o440, " (checked with visudo -c first)", validate)
    if visudo is None:
        sudo_step.blocked = (
            "visudo not found (Debian package sudo): the sudo rule cannot be checked, so it is not "
            "installed; apt-get install sudo, then run setup again"
        )
    return sudo_step


def _wrapper_steps(target: _Target) -> list[Step]:
    """7. The wrappers users run, and the tick cron runs as the service user."""
    opts, root = target.opts, target.root
    bindir = os.path.join(opts.prefix, "bin")
    wrapper = render_contrib("igor-wrapper.sh", **target.render).encode()
    steps: list[Step] = []
    for name in ("igor", "igor-tui"):
        path = os.path.join(bindir, name)
        step = target.root_file(path, wrapper, 0o755, " (runs igor as the service user, arguments quoted)")
        real = root(path)
        if os.path.isfile(real) and not _is_wrapper(real):
            step.blocked = (
                f"{path} exists and is not igor's wrapper (was igor-tui pip-installed into {opts.prefix}? "
                f"install it into the virtualenv {lib_dir(opts.prefix)} instead), then run setup again"
            )
        steps.append(step)
    tick = os.path.join(lib_dir(opts.prefix), "bin", "igor-tick")
    steps.append(symlink_step(root, os.path.join(bindir, "igor-tick"), tick, " (what cron runs)"))
    return steps


def _is_wrapper(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!/bin/sh") and b"lib/igor-tui/bin/" in head


def _start_timer(env: Mapping[str, str]) -> Step:
    systemctl = find_command("systemctl", env, "")

    def done() -> bool:
        if systemctl is None:
            return False
        proc = subprocess.run([*systemctl, "is-active", "--quiet", "igor-tick.timer"], check=False)
        return proc.returncode == 0

    def apply() -> None:
        assert systemctl is not None
        for args in (["daemon-reload"], ["start", "igor-tick.timer"]):
            proc = subprocess.run([*systemctl, *args], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise IgorError(f"setup: systemctl {' '.join(args)} failed: {proc.stderr.strip()}")

    return Step(
        "start igor-tick.timer (systemctl daemon-reload; systemctl start igor-tick.timer)",
        done,
        apply,
        blocked="" if systemctl else "systemctl not found",
    )


# ------------------------------------------------------------------------------------------- running


def run_setup(
    opts: SetupOptions,
    *,
    yes: bool,
    ask: Callable[[], bool] | None,
    out: IO[str],
    env: Mapping[str, str],
    euid: int | None = None,
) -> int:
    """Print the plan, get a yes (from --yes or `ask`, None meaning no terminal), apply, verify.

    Returns 0 when everything is in place, 1 when a step was blocked (the others are still done)."""
    steps = plan(opts, env)
    root = Root(opts.root)
    kind = f"Cobbler (default profile {opts.cobbler_profile})" if opts.cobbler else "plain PXE"
    where = "this system" if root.is_system else str(root)
    out.write(
        f"igor setup: installing into {where}: service user {opts.user}, prefix {opts.prefix}, {kind}, "
        f"igor-tick from {opts.timer}\n"
    )
    states = [("CANNOT" if s.blocked else "done" if s.is_done() else "todo") for s in steps]
    for step, state in zip(steps, states, strict=True):
        out.write(f"  {state:<6}  {step.what}\n")
        if step.blocked:
            out.write(f"          {step.blocked}\n")
        if step.note:
            out.writelines(f"          {line}\n" for line in step.note.rstrip("\n").splitlines())
    program = os.path.join(lib_dir(opts.prefix), "bin", "igor")
    if not os.path.isfile(root(program)):
        out.write(
            f"note: {program} does not exist yet: the wrapper, sudo rule and tick run igor-tui from the "
            f"virtualenv {lib_dir(opts.prefix)} (python3 -m venv {lib_dir(opts.prefix)} && "
            f"{lib_dir(opts.prefix)}/bin/pip install igor-tui)\n"
        )
    todo = [s for s, state in zip(steps, states, strict=True) if state == "todo"]
    blocked = [s for s in steps if s.blocked]
    if not todo:
        out.write(f"Nothing to change: {states.count('done')} of {len(steps)} steps already in place.\n")
        return _finish(blocked, out)
    euid = os.geteuid() if euid is None else euid
    if root.is_system and euid != 0:
        raise IgorError(
            "setup: nothing changed: creating a user and writing /etc needs root (sudo igor setup)"
        )
    if not yes:
        if ask is None:
            raise IgorError(
                "setup: nothing changed: there is no terminal to confirm on; run again with --yes to make "
                f"these {len(todo)} change(s)"
            )
        if not ask():
            out.write("Nothing changed.\n")
            return 1
    for step in todo:
        step.apply()
        if not step.is_done():
            raise IgorError(f"setup: {step.what}: still not in place after the change; stopping here")
        out.write(f"  made    {step.what}\n")
    out.write(f"{len(todo)} change(s) made; {len(steps) - len(todo) - len(blocked)} already in place.\n")
    out.write(f"Next: edit {CONFIG_PATH} (nodes, hosts, power commands, admins), then run 'igor doctor'.\n")
    return _finish(blocked, out)


def _finish(blocked: list[Step], out: IO[str]) -> int:
    if not blocked:
        return 0
    out.write(f"{len(blocked)} step(s) could not be taken (CANNOT above): fix that and run setup again.\n")
    return 1
