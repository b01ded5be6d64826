"""A head node in miniature: real users, the project's own sudo rule and wrapper, igor run through sudo.

The security tests must see what a user on a head node sees, so nothing here sets SUDO_USER by hand:
`run_as("rig-alice", "igor", "show")` runs `runuser -u rig-alice -- env -i ... <wrapper> show`, and the
wrapper (contrib/igor-wrapper.sh) calls `sudo -u igor`, which the installed rule (contrib/igor.sudoers)
allows. sudo sets SUDO_USER and strips the environment exactly as it does in production.

Layout (one fresh world-searchable directory under /tmp per rig, `SudoRig.base`):
  lib/site/        igor_tui and its runtime dependencies, copied from the test interpreter: the repo and
                   the venv may sit under /root (0700), which the rig's users cannot enter
  lib/bin/         igor, igor-tui, igor-tick: launchers running Debian's /usr/bin/python3.11 (world-
                   executable, ABI-compatible with the venv's cp311 wheels) with -P, so a caller's working
                   directory can never shadow a module; sudo clears the environment, so they set PYTHONPATH
  bin/             the wrapper from contrib/, rendered for lib/bin (igor and igor-tui)
  etc/igor.conf    owned by igor, mode 0600 (holds a switch password, SECRET)
  tftp/, state/, log/   owned by igor; statedir is set explicitly (state/), outside the TFTP root
  home/<user>/     each caller's home (0755) with a world-readable kernel and initrd
  igor-only/       igor's 0700 directory holding a 0644 file: readable by the service, not by callers

Users: the service user must be called `igor` (identity.SERVICE_USER: igor trusts SUDO_USER only when it
runs as that account or root). The rig creates `igor` if it does not exist and then removes it again; an
`igor` that existed before is used and left alone. The callers are `rig-alice` and `rig-bob` (rig-alice
in group `rig-lab`): not alice/bob, because the rest of the suite runs as root with SUDO_USER=alice for
accounts that must not exist, and may run at the same time as this rig.

sudoers: contrib/igor.sudoers rendered for lib/bin and checked with `visudo -c -f`, plus two lines that
model the most permissive site igor must still survive: `env_keep += IGOR_CONFIG` (so the test reaches
igor's own refusal, not sudo's stripping) and igor-tick allowed too. Installed as
/etc/sudoers.d/igor-rig-<pid> (0440) and removed at the end.

Concurrency: one rig at a time on a machine (users are global), serialised by an fcntl lock on
/tmp/igor-sudo-rig.lock; everything else lives under the rig's own temp directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICE = "igor"
ALICE, BOB = "rig-alice", "rig-bob"
GROUP = "rig-lab"
SECRET = "rig-switch-S3cr3t"
LOCK = "/tmp/igor-sudo-rig.lock"
PYTHON = "/usr/bin/python3.11"
REPO = Path(__file__).resolve().parent.parent
CONTRIB = REPO / "contrib"
INSTALLED_LIB = "/usr/local/lib/igor-tui/bin"
TOOLS = ("sudo", "visudo", "useradd", "userdel", "groupadd", "groupdel", "runuser")
RUNTIME = ("igor_tui", "tinydb", "portalocker", "orjson", "rich", "pygments", "markdown_it", "mdurl")
"""What the CLI and the tick import on the paths the tests take (the TUI only gets as far as its config)."""
PROGRAMS = {
    "igor": "from igor_tui.cli import main; main()",
    "igor-tick": "from igor_tui.tick import main; main()",
    "igor-tui": "from igor_tui.tui_main import console; console()",
}


def missing() -> str:
    """Why the rig cannot be built here ('' if it can)."""
    if os.geteuid() != 0:
        return "the sudo rig needs root (it creates users and a sudoers rule)"
    absent = [t for t in TOOLS if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    if absent:
        return f"the sudo rig needs {', '.join(absent)} (apt-get install sudo passwd util-linux)"
    if not os.access(PYTHON, os.X_OK):
        return f"the sudo rig needs {PYTHON} (apt-get install python3)"
    return ""


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@dataclass
class SudoRig:
    """A built rig; see the module docstring. Use `build()` (a context manager) to get one."""

    base: Path
    sudoers: Path
    created: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------------- paths

    @property
    def config(self) -> Path:
        return self.base / "etc" / "igor.conf"

    @property
    def tftproot(self) -> Path:
        return self.base / "tftp"

    @property
    def statedir(self) -> Path:
        return self.base / "state"

    @property
    def logfile(self) -> Path:
        return self.base / "log" / "igor.log"

    def home(self, user: str) -> Path:
        return self.base / "home" / user

    def boot(self, user: str) -> tuple[str, str, str, str]:
        """`-k KERNEL -i INITRD` with `user`'s own world-readable boot files."""
        return ("-k", str(self.home(user) / "vmlinuz"), "-i", str(self.home(user) / "initrd.img"))

    # ----------------------------------------------------------------------------- running

    def run_as(
        self,
        user: str,
        *argv: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """`argv` typed by `user` at a shell: argv[0] is igor or igor-tui (through the wrapper, which runs
        sudo -u igor) or igor-tick (sudo directly, allowed by the rig's extra line). `env` is the user's
        exported environment (sudo decides what crosses). The working directory is the user's home."""
        program, *args = argv
        if program == "igor-tick":
            command = ["sudo", "-n", "-u", SERVICE, str(self.base / "lib" / "bin" / "igor-tick")]
        else:
            command = [str(self.base / "bin" / program)]
        exported = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home(user)),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "IGOR_CONFIG": str(self.config),  # kept by the rig's rule, as a site would point at its config
        }
        exported.update(env or {})
        return self._spawn(user, [*(f"{k}={v}" for k, v in exported.items()), *command, *args], timeout)

    def run_service(
        self, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """`argv` as the service user itself, as cron runs igor-tick (no sudo, so no SUDO_USER). `env` adds
        to cron's environment (e.g. libfaketime's variables, to step the tick's wall clock)."""
        program, *args = argv
        exported = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC", "IGOR_CONFIG": str(self.config)}
        exported.update(env or {})
        pairs = [f"{k}={v}" for k, v in exported.items()]
        return self._spawn(SERVICE, [*pairs, str(self.base / "lib" / "bin" / program), *args], timeout)

    def _spawn(self, user: str, env_and_argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        cwd = self.home(user) if user != SERVICE else self.statedir
        return subprocess.run(
            ["runuser", "-u", user, "--", "env", "-i", *env_and_argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # ----------------------------------------------------------------------------- state

    def disk(self) -> dict[str, str]:
        """Every file under the state dir and the TFTP root (path -> sha256), to prove nothing changed.

        The log is left out: it records refusals on purpose."""
        found: dict[str, str] = {}
        for top in (self.statedir, self.tftproot):
            for path in sorted(top.rglob("*")):
                if path.is_file() and not path.is_symlink() and path != self.logfile:
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    def content_bytes(self) -> list[bytes]:
        """The bytes of every published boot-file copy, wherever the content area lives."""
        return [
            path.read_bytes()
            for top in (self.statedir, self.tftproot)
            for path in top.rglob("*")
            if path.is_file() and len(path.name) == 64 and all(c in "0123456789abcdef" for c in path.name)
        ]

    def write_as(self, user: str, path: Path, data: bytes, mode: int = 0o644) -> Path:
        """A file owned by `user` (their "kernel", their evil config...)."""
        path.write_bytes(data)
        return _own(path, user, mode)

    def link_as(self, user: str, link: Path, target: Path) -> Path:
        """A symlink owned by `user`, replacing any file of that name."""
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        entry = pwd.getpwnam(user)
        os.lchown(link, entry.pw_uid, entry.pw_gid)
        return link


# ------------------------------------------------------------------------------------ building


def _users(created: list[str]) -> None:
    for user in (ALICE, BOB):  # leftovers of a killed run are ours (the lock is held)
        if _exists(user):
            _run("userdel", user)
    with contextlib.suppress(subprocess.CalledProcessError):
        _run("groupdel", GROUP)
    _run("groupadd", GROUP)
    created.append(f"group:{GROUP}")
    if not _exists(SERVICE):
        _run(
            "useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE
        )
        created.append(SERVICE)
    for user, extra in ((ALICE, ["-G", GROUP]), (BOB, [])):
        _run("useradd", "--user-group", "--no-create-home", "--shell", "/bin/sh", *extra, user)
        created.append(user)


def _copy_runtime(site: Path) -> None:
    for name in RUNTIME:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"sudo rig: {name} is not importable by the test interpreter")
        source = Path(spec.origin)
        if source.name == "__init__.py":
            shutil.copytree(source.parent, site / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, site / source.name)


def _own(path: Path, user: str, mode: int) -> Path:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)
    return path


def _layout(base: Path) -> None:
    site = base / "lib" / "site"
    site.mkdir(parents=True)
    _copy_runtime(site)
    (base / "lib" / "bin").mkdir()
    for program, code in PROGRAMS.items():
        launcher = base / "lib" / "bin" / program
        launcher.write_text(
            "#!/bin/sh\n"
            f"export PYTHONPATH={site} PYTHONDONTWRITEBYTECODE=1\n"
            f'exec {PYTHON} -P -c "import sys; sys.argv[0] = \'{program}\'; {code}" "$@"\n'
        )
        launcher.chmod(0o755)
    (base / "bin").mkdir()
    wrapper = (CONTRIB / "igor-wrapper.sh").read_text().replace(INSTALLED_LIB, str(base / "lib" / "bin"))
    for name in ("igor", "igor-tui"):
        (base / "bin" / name).write_text(wrapper)
        (base / "bin" / name).chmod(0o755)
    for sub in ("etc", "home"):
        (base / sub).mkdir(mode=0o755)
    for sub in ("tftp", "state", "log"):
        (base / sub).mkdir()
        _own(base / sub, SERVICE, 0o755)
    config = {
        "tftproot": str(base / "tftp"),
        "statedir": str(base / "state"),
        "logfile": str(base / "log" / "igor.log"),
        "prefix": "kn",
        "start": 1,
        "end": 20,
        "timezone": "UTC",
        "network": "",
        "networkpassword": SECRET,
        # igor's own host map (loopback only) and no probing, so a real igor-tick never asks a resolver
        # or touches the network: it writes boot files and nothing else
        "hosts": {f"kn{i}": {"ip": f"127.0.2.{i}", "mac": f"52:54:00:00:02:{i:02x}"} for i in range(1, 21)},
        "liveness": "none",
    }
    (base / "etc" / "igor.conf").write_text(json.dumps(config, indent=2) + "\n")
    _own(base / "etc" / "igor.conf", SERVICE, 0o600)
    for user in (ALICE, BOB):
        home = _own(_mkdir(base / "home" / user), user, 0o755)
        for name, data in (("vmlinuz", f"{user} kernel\n"), ("initrd.img", f"{user} initrd\n")):
            (home / name).write_text(data)
            _own(home / name, user, 0o644)
    hidden = _own(_mkdir(base / "igor-only"), SERVICE, 0o700)
    (hidden / "vmlinuz").write_text("only igor can reach this kernel\n")
    _own(hidden / "vmlinuz", SERVICE, 0o644)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _sudoers(base: Path, target: Path) -> None:
    lib = base / "lib" / "bin"
    rule = (CONTRIB / "igor.sudoers").read_text().replace(INSTALLED_LIB, str(lib))
    rule += (
        "# sudo rig only: the most permissive site igor must survive\n"
        f'Defaults!{lib}/igor env_keep += "IGOR_CONFIG"\n'
        f'Defaults!{lib}/igor-tui env_keep += "IGOR_CONFIG"\n'
        f'Defaults!{lib}/igor-tick env_keep += "IGOR_CONFIG"\n'
        f"ALL ALL=({SERVICE}) NOPASSWD: {lib}/igor-tick\n"
    )
    staged = base / "sudoers"
    staged.write_text(rule)
    staged.chmod(0o440)
    _run("visudo", "-c", "-f", str(staged))
    shutil.copy2(staged, target)
    target.chmod(0o440)


@contextlib.contextmanager
def build() -> Iterator[SudoRig]:
    """Build the rig (waiting up to 10 minutes for another one on this machine), yield it, tear it down."""
    with open(LOCK, "a") as lock:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"another sudo rig holds {LOCK} for over 10 minutes") from None
                time.sleep(0.5)
        base = Path(tempfile.mkdtemp(prefix="igor-sudo-rig-"))
        base.chmod(0o755)
        rig = SudoRig(base=base, sudoers=Path(f"/etc/sudoers.d/igor-rig-{os.getpid()}"))
        try:
            _users(rig.created)
            _layout(base)
            _sudoers(base, rig.sudoers)
            yield rig
        finally:
            rig.sudoers.unlink(missing_ok=True)
            for entry in reversed(rig.created):
                with contextlib.suppress(subprocess.CalledProcessError):
                    if entry.startswith("group:"):
                        _run("groupdel", entry.removeprefix("group:"))
                    else:
                        _run("userdel", entry)
            shutil.rmtree(base, ignore_errors=True)
