"""Runs a real Cobbler 3.3 `cobblerd` on 127.0.0.1 in a private mount namespace, for the Cobbler tests.

Cobbler hard-codes /etc/cobbler, /var/lib/cobbler, /srv/tftpboot ... so the server gets its own copies of
those trees in a temp dir, bind-mounted over the real paths inside a mount namespace only it (and the
`cobbler` wrapper) sees; the host is left untouched apart from empty mount-point directories. Cobbler's
Python packages live in their own venv in a cache dir outside the repo, so igor never depends on them.
See ../shared/notes/real-cobbler.md for why each step is needed.

Also runnable: `python tests/cobbler_server.py build-venv` prepares the venv (for .ci/run), and
`python tests/cobbler_server.py check` prints what is missing, if anything.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import fcntl
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

COBBLER_REQUIREMENT = "cobbler==3.3.10"
# Cobbler's real runtime dependencies (its metadata also asks for mod-wsgi, pymongo and python-ldap, which
# need Apache/LDAP headers and are unused here, hence `--no-deps` for cobbler itself).
RUNTIME_REQUIREMENTS = (
    "Cheetah3==3.2.6.post1",
    "distro==1.9.0",
    "dnspython==2.9.2",
    "file-magic==0.4.1",
    "netaddr==1.3.0",
    "PyYAML==6.0.3",
    "requests==2.34.2",
    "schema==0.7.8",
)
DEBIAN_PACKAGES = ("rsync", "libmagic1")  # util-linux (unshare, nsenter, mount) is in the base image

# Real paths Cobbler hard-codes -> where their private copies live inside the server's temp dir.
MOUNTED_TREES = (
    "/etc/cobbler",
    "/var/lib/cobbler",
    "/var/log/cobbler",
    "/srv/tftpboot",
    "/var/www/cobbler",
    "/var/cache/cobbler",
)
COLLECTIONS = (
    "distros",
    "profiles",
    "systems",
    "images",
    "repos",
    "mgmtclasses",
    "packages",
    "files",
    "menus",
)
DEFAULT_PROFILE = "igor-default"
CREDENTIALS = ("cobbler", "cobbler")  # the stock users.digest entry

# Runs as the namespace's anchor: bind-mount the trees, say "ready", then live until stdin closes (or the
# parent dies), so cobblerd can be stopped and started again inside the same namespace.
_HOLDER = r"""
import ctypes, json, subprocess, sys
ctypes.CDLL(None).prctl(1, 15)  # PR_SET_PDEATHSIG = SIGTERM: never outlive the test session
for src, dst in json.loads(sys.argv[1]):
    subprocess.run(["mount", "--bind", src, dst], check=True)
print("ready", flush=True)
sys.stdin.read()
"""


def cache_dir() -> Path:
    """Where built things survive between test runs: ${XDG_CACHE_HOME:-~/.cache}/igor-tui-tests."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "igor-tui-tests"


def venv_dir() -> Path:
    """The Cobbler venv; IGOR_COBBLER_VENV overrides the cache location."""
    override = os.environ.get("IGOR_COBBLER_VENV")
    return Path(override) if override else cache_dir() / "cobbler-venv"


def _stamp() -> str:
    return "\n".join((sys.version.split()[0], COBBLER_REQUIREMENT, *RUNTIME_REQUIREMENTS)) + "\n"


def venv_ready(venv: Path) -> bool:
    """True when the venv was completely built for exactly these pins and this Python."""
    stamp = venv / "igor-stamp.txt"
    return stamp.exists() and stamp.read_text() == _stamp() and (venv / "bin" / "cobblerd").exists()


def ensure_venv(venv: Path | None = None) -> Path:
    """Build the Cobbler venv unless a complete one exists; safe under pytest-xdist (file lock).

    Raises RuntimeError with pip's output when the build fails (e.g. no access to PyPI)."""
    venv = venv or venv_dir()
    if venv_ready(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if venv_ready(venv):
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        python = str(venv / "bin" / "python")
        steps = (
            [sys.executable, "-m", "venv", str(venv)],
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                COBBLER_REQUIREMENT,
            ],
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *RUNTIME_REQUIREMENTS],
        )
        for argv in steps:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"building the Cobbler venv failed: {' '.join(argv)}: {proc.stderr[-2000:]}"
                )
        (venv / "igor-stamp.txt").write_text(_stamp())
    return venv


def missing_prerequisite() -> str:
    """Why a real cobblerd cannot run here ("" when it can), precise enough to act on."""
    if sys.platform != "linux":
        return "the real Cobbler server needs Linux mount namespaces"
    if os.geteuid() != 0:
        return "the real Cobbler server needs root (unshare -m and bind mounts over /etc/cobbler ...)"
    for tool, package in (("rsync", "rsync"), ("unshare", "util-linux"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian package {package}); Cobbler needs it"
    if shutil.which("mount") is None:
        return "mount not installed (Debian package mount)"
    if ctypes.util.find_library("magic") is None:
        return "libmagic not installed (Debian package libmagic1); Cobbler's file-magic needs it"
    return ""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> Any:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


@dataclass
class CobblerServer:
    """One cobblerd in its own mount namespace; `cobbler` is a wrapper script the product can run as is."""

    venv: Path
    root: Path  # temp dir holding the six trees, the wrapper and the logs
    port: int = field(default_factory=free_port)
    holder: subprocess.Popen[str] | None = None
    daemon: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------------------------ paths

    @property
    def cobbler(self) -> str:
        """Path of the `cobbler` wrapper (runs the stock CLI inside the server's namespace)."""
        return str(self.root / "bin" / "cobbler")

    @property
    def url(self) -> str:
        """XML-RPC URL, as a site's Apache would serve it."""
        return f"http://127.0.0.1:{self.port}/cobbler_api"

    @property
    def tftp_root(self) -> Path:
        """Cobbler's /srv/tftpboot, as seen from the host."""
        return self.tree("/srv/tftpboot")

    @property
    def default_profile(self) -> str:
        return DEFAULT_PROFILE

    def tree(self, real: str) -> Path:
        """Host path of the private copy of one of Cobbler's hard-coded trees."""
        return self.root / real.lstrip("/")

    # ------------------------------------------------------------------------------------ lifecycle

    def prepare(self) -> None:
        """Build the six trees from the wheel's shipped copies, with a settings.yaml for our port."""
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        for real in MOUNTED_TREES:
            shipped = site / real.lstrip("/")
            if shipped.is_dir():
                shutil.copytree(shipped, self.tree(real), symlinks=True)
            else:
                self.tree(real).mkdir(parents=True)
        lib = self.tree("/var/lib/cobbler")
        for name in COLLECTIONS:
            (lib / "collections" / name).mkdir(parents=True, exist_ok=True)
        for name in ("triggers", "loaders"):
            (lib / name).mkdir(exist_ok=True)
        (self.tree("/var/log/cobbler") / "tasks").mkdir(exist_ok=True)
        settings = self.tree("/etc/cobbler") / "settings.yaml"
        text = settings.read_text()
        for key, value in (
            ("http_port", str(self.port)),
            ("xmlrpc_port", str(self.port)),
            ("restart_dhcp", "false"),
            ("restart_dns", "false"),
        ):
            text, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}", text)
            if count != 1:
                raise RuntimeError(f"stock settings.yaml has {count} lines for {key}")
        settings.write_text(text)
        # Empty mount points on the host, left in place: another session's namespace may be using them.
        for real in MOUNTED_TREES:
            os.makedirs(real, exist_ok=True)
        (self.root / "bin").mkdir()

    def start(self) -> None:
        """Create the namespace (once) and start cobblerd in it; returns when it answers ping()."""
        if self.holder is None:
            binds = [[str(self.tree(real)), real] for real in MOUNTED_TREES]
            self.holder = subprocess.Popen(
                [
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "--",
                    sys.executable,
                    "-c",
                    _HOLDER,
                    json.dumps(binds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert self.holder.stdout is not None
            line = self.holder.stdout.readline()
            if line.strip() != "ready":
                _, err = self.holder.communicate(timeout=10)
                raise RuntimeError(f"could not set up Cobbler's mount namespace: {err.strip()}")
            wrapper = Path(self.cobbler)
            cli = shlex.quote(str(self.venv / "bin" / "cobbler"))
            wrapper.write_text(
                "#!/bin/sh\n"
                "# Runs the stock cobbler CLI inside the test cobblerd's private mount namespace.\n"
                f'exec nsenter -t {self.holder.pid} -m -- {cli} "$@"\n'
            )
            wrapper.chmod(0o755)
        self.start_daemon()

    def start_daemon(self) -> None:
        """(Re)start cobblerd inside the existing namespace."""
        assert self.holder is not None
        log = open(self.root / "cobblerd.out", "ab")  # noqa: SIM115 - handed to the child
        # cobblerd in the foreground, accepting XML-RPC on any path: the stock CLI posts to /cobbler_api
        # (Apache's proxy path in a real install), which SimpleXMLRPCServer would answer with 404.
        launcher = (
            "import ctypes, runpy, sys\n"
            "ctypes.CDLL(None).prctl(1, 15)\n"
            "import cobbler.remote\n"
            "cobbler.remote.RequestHandler.rpc_paths = ()\n"
            "sys.argv = ['cobblerd', '-F']\n"
            f"runpy.run_path({str(self.venv / 'bin' / 'cobblerd')!r}, run_name='__main__')\n"
        )
        with log:
            self.daemon = subprocess.Popen(
                [
                    "nsenter",
                    "-t",
                    str(self.holder.pid),
                    "-m",
                    "--",
                    str(self.venv / "bin" / "python"),
                    "-c",
                    launcher,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.proxy(timeout=2).ping()
                return
            except (OSError, xmlrpc.client.Error):
                if self.daemon.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "cobblerd.out").read_text(errors="replace")[-3000:]
                    self.stop()
                    raise RuntimeError(
                        f"cobblerd did not come up on 127.0.0.1:{self.port}:\n{tail}"
                    ) from None
                time.sleep(0.05)

    def stop_daemon(self) -> None:
        """Stop cobblerd but keep the namespace (the `cobbler` wrapper then meets a daemon that is down)."""
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=10)
        self.daemon = None

    def stop(self) -> None:
        """Stop cobblerd and end the namespace (its bind mounts vanish with it)."""
        self.stop_daemon()
        if self.holder is not None:
            if self.holder.poll() is None:
                try:
                    self.holder.communicate(timeout=10)  # closes stdin: the holder exits
                except subprocess.TimeoutExpired:
                    self.holder.kill()
                    self.holder.communicate(timeout=10)
            self.holder = None

    # ------------------------------------------------------------------------------------ helpers

    def proxy(self, timeout: float = 30.0) -> xmlrpc.client.ServerProxy:
        """A fresh XML-RPC client (ServerProxy is not thread-safe, so one per use)."""
        return xmlrpc.client.ServerProxy(self.url, transport=_TimeoutTransport(timeout), allow_none=True)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the stock CLI (through the wrapper), e.g. run("system", "report", "--name", "kn1")."""
        proc = subprocess.run([self.cobbler, *args], capture_output=True, text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"cobbler {' '.join(args)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def make_kernel(self, directory: Path, name: str = "vmlinuz") -> tuple[Path, Path]:
        """A fake kernel and initrd (Cobbler checks names and existence, not content)."""
        directory.mkdir(parents=True, exist_ok=True)
        kernel, initrd = directory / name, directory / "initrd.img"
        kernel.write_bytes(b"not really a kernel " + name.encode())
        initrd.write_bytes(b"not really an initrd")
        return kernel, initrd

    def xapi(self, kind: str, name: str, action: str, **attrs: Any) -> None:
        """One object edit over XML-RPC (what the CLI does, without its ~0.3 s start-up)."""
        proxy = self.proxy()
        token = proxy.login(*CREDENTIALS)
        payload = {"name": name, **attrs}
        if action == "remove":
            payload["recursive"] = False
        proxy.xapi_object_edit(kind, name, action, payload, token)

    def add_default_profile(self) -> None:
        """The distro+profile nodes go back to when a reservation ends (igor's cobblerdefaultprofile)."""
        kernel, initrd = self.make_kernel(self.root / "default-boot")
        self.xapi("distro", DEFAULT_PROFILE, "add", kernel=str(kernel), initrd=str(initrd))
        self.xapi("profile", DEFAULT_PROFILE, "add", distro=DEFAULT_PROFILE)

    def add_system(self, name: str, mac: str, profile: str = DEFAULT_PROFILE) -> None:
        """A Cobbler system for a node, as a site would have set up before igor ever runs."""
        self.xapi("system", name, "add", profile=profile, mac_address=mac)

    def remove_system(self, name: str) -> None:
        with contextlib.suppress(xmlrpc.client.Fault):  # already gone
            self.xapi("system", name, "remove")

    def system(self, name: str) -> dict[str, Any]:
        """The system as Cobbler stores it (XML-RPC: fast, and exactly what the server holds)."""
        data = self.proxy().get_system(name)
        return data if isinstance(data, dict) else {}

    def names(self, kind: str) -> list[str]:
        """Names of all distros/profiles/systems."""
        items = self.proxy().get_item_names(kind)
        return [str(i) for i in items] if isinstance(items, list) else []

    def pxe_file(self, mac: str) -> Path:
        """The pxelinux file Cobbler writes for a MAC."""
        return self.tftp_root / "pxelinux.cfg" / ("01-" + mac.replace(":", "-").lower())


def start_server(venv: Path | None = None) -> CobblerServer:
    """Prepare the trees in a new temp dir and start cobblerd with a default distro+profile."""
    server = CobblerServer(venv=venv or ensure_venv(), root=Path(tempfile.mkdtemp(prefix="igor-cobbler-")))
    try:
        server.prepare()
        server.start()
        server.add_default_profile()
    except BaseException:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def cobbler_server() -> Iterator[CobblerServer]:
    """One real cobblerd for the whole session (start ~1.5 s once the venv exists), stopped at the end.

    Tests using it must be marked `real`: it skips, naming the missing piece, when this machine cannot
    run Cobbler (and IGOR_REQUIRE_REAL=1 turns that skip into a failure)."""
    missing = missing_prerequisite()
    if missing:
        pytest.skip(missing)
    try:
        venv = ensure_venv()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot build the Cobbler venv in {venv_dir()}: {err}")
    server = start_server(venv)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def _main(argv: Sequence[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "build-venv":
        print(ensure_venv())
        return 0
    if command == "check":
        missing = missing_prerequisite()
        print(missing or f"ok (venv {'ready' if venv_ready(venv_dir()) else 'not built yet'}: {venv_dir()})")
        return 1 if missing else 0
    print("usage: cobbler_server.py build-venv|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
