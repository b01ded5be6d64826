"""`igor doctor`: check an installation end to end and say, for each problem, how to fix it.

Classic igor had no such check: a missing pxelinux.0, a config other users could read or a cron job that
never ran were found by the first user whose nodes did not boot. Every check here reads, and never
writes: doctor creates no lock file, store or directory, so running it as root cannot leave files the
service user then cannot open.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from ..errors import IgorError
from .deploy import (
    CRON_PATH,
    DEFAULT_PREFIX,
    DEFAULT_USER,
    PXELINUX_FILES,
    SUDOERS_PATH,
    SYSTEMD_DIR,
    TIMER_WANTS,
    Account,
    Root,
    find_account,
    lib_dir,
    owner_name,
)
from .doctor_backends import PeerChecks

if TYPE_CHECKING:
    from ..config import Config
    from .doctor_security import Status

TICK_STALE_MINUTES = 3
"""The tick runs every minute; a little slack for a slow run or a busy cron before it counts as stopped."""
LOCK_WAIT_SECONDS = 2.0
"""Writers hold the store lock for milliseconds; held this long, something is stuck."""
_SETUP_HINT = "igor setup --tftproot DIR creates it (see README, Install on a head node)"


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: a stable `name` (for --json and scripts), its status, what was seen and the fix."""

    name: str
    status: Status
    message: str
    fix: str = ""


class Doctor:
    """Runs the checks for one installation; `root` maps the config's paths, as with `igor setup --root`."""

    def __init__(
        self,
        root: Root,
        config_path: str,
        *,
        user: str = DEFAULT_USER,
        prefix: str = DEFAULT_PREFIX,
        env: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.root = root
        self.config_path = config_path
        self.user = user
        self.prefix = prefix
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.now = now or datetime.now(UTC)
        self.checks: list[Check] = []
        self.account: Account | None = None

    def add(self, name: str, status: Status, message: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, message, fix))

    def run(self) -> list[Check]:
        """Every check that applies. Checks that need the config are skipped (and say so) without one."""
        self.account = find_account(self.root, self.user)
        if self.account is None:
            self.add("user", "fail", f"the service user {self.user} does not exist", _SETUP_HINT)
        else:
            self.add("user", "ok", f"service user {self.user} (uid {self.account.uid})")
        config = self._config()
        self._deployment()
        if config is None:
            return self.checks
        peers = PeerChecks(self.add, self.root, self.env)
        steps: list[Callable[[Config], None]] = [
            self._directories,
            self._pxelinux,
            self._grub,
            peers.nodes,
            peers.power,
            peers.cobbler,
            peers.switch,
            self._store_and_tick,
            self._private_state,
        ]
        for step in steps:
            try:
                step(config)
            except IgorError as err:  # a check must report, never end the run
                self.add(step.__name__.strip("_"), "fail", str(err))
        return self.checks

    def _private_state(self, config: Config) -> None:
        from .doctor_security import check_store_location, check_tftp_secrets

        check_store_location(self.add, self.root, config)
        check_tftp_secrets(self.add, self.root, config)

    # ------------------------------------------------------------------------------------ config

    def _config(self) -> Config | None:
        from ..config import load_config
        from ..errors import ConfigError
        from ..trust import principal

        path = self.root(self.config_path)
        if not os.path.lexists(path):
            self.add("config", "fail", f"{path} does not exist", _SETUP_HINT)
            return None
        if not os.access(path, os.R_OK):
            self.add(
                "config",
                "warn",
                f"{path} is not readable by you (only {self.user} may read it, as it may hold passwords); "
                "the checks that need it are skipped",
                "run 'igor doctor' through the igor wrapper (it runs as the service user) or as root",
            )
            return None
        try:  # through sudo, only a config the caller could not have made (trust.read_config)
            config = load_config(path, principal(self.env) if self.root.is_system else None)
        except ConfigError as err:
            self.add("config", "fail", str(err), f"edit {path}; igor.conf.example explains every key")
            return None
        kind = (
            f"Cobbler (default profile {config.cobblerdefaultprofile})" if config.usecobbler else "plain PXE"
        )
        self.add("config", "ok", f"{path} is valid: {config.naming.describe()}, {kind}")
        st = os.stat(path)
        problems: list[str] = []
        fixes: list[str] = []
        if stat.S_IMODE(st.st_mode) & 0o077:
            problems.append(
                f"mode {stat.S_IMODE(st.st_mode):04o}: others can read it, and it may hold passwords"
            )
            fixes.append(f"chmod 600 {path}")
        if self.account is not None and st.st_uid != self.account.uid:
            problems.append(f"owned by {owner_name(self.root, st.st_uid)}, not {self.user}")
            fixes.append(f"chown {self.user}: {path}")
        if problems:
            self.add("config-mode", "fail", f"{path}: {'; '.join(problems)}", " && ".join(fixes))
        else:
            self.add("config-mode", "ok", f"{path}: owner {self.user}, mode 0600")
        return config

    # ---------------------------------------------------------------------------- files on disk

    def _owned_dir(
        self, path: str, why: str, problems: list[str], fixes: list[str], *, needed: bool, served: bool = True
    ) -> None:
        """`path` must be the service user's; `served` ones must also be readable by the TFTP server."""
        real = self.root(path)
        try:
            st = os.stat(real)
        except OSError:
            if needed:
                problems.append(f"{real} is missing ({why})")
                fixes.append(f"install -d -o {self.user} -g {self.user} -m 0755 {real}")
            return
        if not stat.S_ISDIR(st.st_mode):
            problems.append(f"{real} is not a directory")
            fixes.append(f"move {real} away, then run igor setup again")
            return
        wrong_owner = self.account is not None and st.st_uid != self.account.uid
        unreadable = served and stat.S_IMODE(st.st_mode) & 0o005 != 0o005
        if wrong_owner or not st.st_mode & stat.S_IWUSR:
            owner = owner_name(self.root, st.st_uid)
            problems.append(
                f"{real} is owned by {owner} (mode {stat.S_IMODE(st.st_mode):04o}), "
                f"so {self.user} cannot write it ({why})"
            )
            fixes.append(f"chown {self.user}: {real} && chmod u+rwx {real}")
        if unreadable:
            problems.append(
                f"{real} is not readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                "the TFTP server and igor's readers need it"
            )
            fixes.append(f"chmod o+rx {real}")

    def _directories(self, config: Config) -> None:
        problems: list[str] = []
        fixes: list[str] = []
        if not os.path.isdir(self.root(config.tftproot)):
            problems.append(f"the TFTP root {self.root(config.tftproot)} is missing")
            fixes.append(f"mkdir -p {self.root(config.tftproot)}")
        if not config.usecobbler:
            cfg = os.path.join(config.tftproot, "pxelinux.cfg")
            self._owned_dir(cfg, "igor-tick writes per-node boot files there", problems, fixes, needed=True)
        self._owned_dir(config.statedir, "the store", problems, fixes, needed=True)
        content = config.contentdir
        self._owned_dir(content, "copies of kernels and initrds", problems, fixes, needed=False)
        if config.logfile:
            logdir = os.path.dirname(config.logfile)
            self._owned_dir(logdir, "the action log", problems, fixes, needed=True, served=False)
        if problems:
            self.add("directories", "fail", "; ".join(problems), " && ".join(dict.fromkeys(fixes)))
        else:
            self.add("directories", "ok", "TFTP root, pxelinux.cfg, state and log directories are in place")

    def _pxelinux(self, config: Config) -> None:
        if config.usecobbler:
            return
        missing = [
            n for n in PXELINUX_FILES if not os.path.isfile(self.root(os.path.join(config.tftproot, n)))
        ]
        if missing:
            tftp = self.root(config.tftproot)
            copies = " && ".join(f"cp {PXELINUX_FILES[n]} {tftp}/" for n in missing)
            self.add(
                "pxelinux",
                "fail",
                f"{', '.join(missing)} missing from {tftp}: nodes cannot boot igor's per-node configs",
                f"apt-get install pxelinux syslinux-common && {copies}",
            )
        else:
            self.add("pxelinux", "ok", f"{' and '.join(PXELINUX_FILES)} are in {self.root(config.tftproot)}")
        default = self.root(os.path.join(config.tftproot, "pxelinux.cfg", "default"))
        if not os.path.isfile(default):
            self.add(
                "pxelinux-default",
                "warn",
                f"{default} is missing: nodes without a reservation have nothing to boot",
                f"write one, e.g. printf 'DEFAULT local\\nLABEL local\\n  LOCALBOOT 0\\n' > {default}",
            )

    def _grub(self, config: Config) -> None:
        """UEFI nodes (bootmode) need igor's GRUB image and a grub/ igor can write (plain PXE only)."""
        if config.usecobbler or not config.bootmode:
            return
        from ..backends import grub

        problems: list[str] = []
        fixes: list[str] = []
        self._owned_dir(
            os.path.join(config.tftproot, grub.GRUB_DIR), "per-node GRUB files", problems, fixes, needed=True
        )
        image = self.root(os.path.join(config.tftproot, grub.GRUB_IMAGE))
        if not os.path.isfile(image):
            problems.append(f"{image} is missing: UEFI nodes have no boot loader to fetch")
            fixes.append("apt-get install grub-efi-amd64-bin grub-common && igor setup --uefi")
        nodes = config.naming.compress(sorted(config.bootmode, key=lambda n: config.naming.number(n) or 0))
        if problems:
            self.add("grub", "fail", f"UEFI nodes {nodes}: " + "; ".join(problems), " && ".join(fixes))
        else:
            self.add(
                "grub",
                "ok",
                f"{grub.GRUB_IMAGE} and {grub.GRUB_DIR}/ serve UEFI nodes {nodes}; {grub.DHCP_HINT}",
            )
        default = self.root(os.path.join(config.tftproot, grub.GRUB_DIR, "grub.cfg"))
        if not os.path.isfile(default):
            self.add(
                "grub-default",
                "warn",
                f"{default} is missing: UEFI nodes without a reservation stop at the grub> prompt",
                f"write one, e.g. printf 'exit\\n' > {default} (back to the firmware's next boot entry)",
            )

    # ------------------------------------------------------------------------------ store, tick

    def _store_and_tick(self, config: Config) -> None:
        from ..store import TinyStore

        statedir = self.root(config.statedir)
        try:
            snap = TinyStore(statedir).snapshot()
        except IgorError as err:
            self.add(
                "store", "fail", str(err), f"restore {statedir}/igor.json from its backup or move it away"
            )
            snap = None
        if snap is not None:
            self.add("store", "ok", f"the store is readable ({len(snap.reservations)} reservations)")
        held = [p for p in ("igor.lock", "tick.lock") if self._lock_held(os.path.join(statedir, p))]
        if held:
            paths = ", ".join(os.path.join(statedir, p) for p in held)
            self.add(
                "lock",
                "fail",
                f"{paths} held for over {LOCK_WAIT_SECONDS:g}s: an igor process is stuck",
                f"fuser -v {paths} names it; end it (kill PID), igor-tick completes its work next run",
            )
        else:
            self.add("lock", "ok", "the store and tick locks are free")
        self._tick(config, statedir)
        if snap is not None:
            errors = [r for r in snap.reservations if r.error]
            if errors:
                text = "; ".join(f"{r.name}: {r.error}" for r in errors[:5])
                more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
                self.add(
                    "tick-errors",
                    "fail",
                    f"igor-tick failed for {len(errors)} reservation(s): {text}{more}",
                    "igor show -e lists them; fix the cause, igor-tick retries (1, 2, 4 … 60 min)",
                )

    def _lock_held(self, path: str) -> bool:
        """Whether another process holds `path`, opened read-only so doctor never creates or owns it."""
        from .. import locks

        try:
            with locks.hold(path, timeout=LOCK_WAIT_SECONDS, poll=0.05, flags=os.O_RDONLY):
                return False
        except locks.LockBusy:
            return True
        except OSError:  # missing, unreadable, no locking there: nothing stuck that doctor could see
            return False

    def _tick(self, config: Config, statedir: str) -> None:
        path = os.path.join(statedir, "tick.last")
        schedule = (
            f"check {self.root(CRON_PATH)} (or: systemctl status igor-tick.timer) "
            "and grep igor /var/log/syslog"
        )
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except FileNotFoundError:
            self.add(
                "tick",
                "warn",
                "igor-tick has not run yet (no tick.last)",
                f"it runs every minute from cron or its timer; if it stays so, {schedule}",
            )
            return
        except (OSError, UnicodeDecodeError) as err:
            self.add("tick", "fail", f"cannot read {path}: {err}", f"chown {self.user}: {path}")
            return
        try:
            last = datetime.fromisoformat(text)
        except ValueError:
            self.add(
                "tick",
                "fail",
                f"{path} holds {text[:40]!r}, not a time",
                f"remove {path}; the next tick rewrites it",
            )
            return
        minutes = int((self.now - last).total_seconds() // 60)
        if minutes > TICK_STALE_MINUTES:
            self.add(
                "tick",
                "fail",
                f"igor-tick last ran {minutes} minutes ago ({last.isoformat()}): reservations "
                "are neither installed nor torn down",
                f"run 'igor-tick' by hand to see errors; {schedule}",
            )
        else:
            self.add("tick", "ok", f"igor-tick ran {max(minutes, 0)} minute(s) ago")

    # ------------------------------------------------------------------------------ deployment

    def _deployment(self) -> None:
        """The files igor setup installs: wrapper, virtualenv programs, schedule and sudo rule."""
        problems: list[str] = []
        lib = lib_dir(self.prefix)
        for name in ("igor", "igor-tick", "igor-tui"):
            program = os.path.join(lib, "bin", name)
            if not os.access(self.root(program), os.X_OK):
                problems.append(f"{self.root(program)} is missing")
        if problems:
            self.add(
                "programs",
                "fail",
                "; ".join(problems),
                f"python3 -m venv {lib} && {lib}/bin/pip install igor-tui",
            )
        else:
            self.add("programs", "ok", f"igor, igor-tick and igor-tui are installed in {self.root(lib)}")
        wrapper = self.root(os.path.join(self.prefix, "bin", "igor"))
        cron = os.path.isfile(self.root(CRON_PATH))
        timer = os.path.lexists(self.root(TIMER_WANTS)) and os.path.isfile(
            self.root(f"{SYSTEMD_DIR}/igor-tick.timer")
        )
        sudoers = self.root(SUDOERS_PATH)
        missing = [
            what
            for what, ok in (
                (f"the wrapper {wrapper}", os.access(wrapper, os.X_OK)),
                (f"the schedule ({self.root(CRON_PATH)} or the igor-tick.timer)", cron or timer),
                (f"the sudo rule {sudoers}", os.path.isfile(sudoers)),
            )
            if not ok
        ]
        if missing:
            self.add(
                "deployment", "fail", "missing: " + "; ".join(missing), _SETUP_HINT + " and installs these"
            )
            return
        self.add(
            "deployment",
            "ok",
            f"wrapper, {'cron entry' if cron else 'systemd timer'} and sudo rule are installed",
        )
        self._sudoers(sudoers)

    def _sudoers(self, path: str) -> None:
        if not os.access(path, os.R_OK):
            return  # root-only: the admin's run checks it
        from .doctor_security import check_sudoers

        check_sudoers(self.add, path, self.user, self.prefix)  # what it allows, then whether sudo parses it
        visudo = shutil.which(
            "visudo", path=os.pathsep.join([self.env.get("PATH", ""), "/usr/sbin", "/sbin"])
        )
        if visudo is None:
            self.add("sudo", "warn", f"visudo not found, {path} not checked", "apt-get install sudo")
            return
        proc = subprocess.run([visudo, "-c", "-f", path], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            self.add(
                "sudo",
                "fail",
                f"visudo rejects {path}: {(proc.stdout + proc.stderr).strip()}",
                "run igor setup again, or fix it with visudo -f",
            )
        else:
            self.add("sudo", "ok", f"{path} passes visudo -c")


# ----------------------------------------------------------------------------------------- output

_LABEL = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


def render(checks: list[Check], out: IO[str]) -> None:
    width = max((len(c.name) for c in checks), default=0)
    for check in checks:
        out.write(f"{_LABEL[check.status]:<5} {check.name:<{width}}  {check.message}\n")
        if check.fix and check.status != "ok":
            out.write(f"{'':<5} {'':<{width}}  fix: {check.fix}\n")
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "warn", "fail")}
    out.write(f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s)\n")


def to_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": not any(c.status == "fail" for c in checks), "checks": [asdict(c) for c in checks]}, indent=2
    )


def run_doctor(doctor: Doctor, *, as_json: bool, out: IO[str]) -> int:
    """Print every finding; exit 1 when any check failed, so scripts and monitoring can use it."""
    checks = doctor.run()
    if as_json:
        out.write(to_json(checks) + "\n")
    else:
        render(checks, out)
    return 1 if any(c.status == "fail" for c in checks) else 0
