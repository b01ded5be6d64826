"""Power backends: run the poweron/poweroff templates locally (argv, no shell) or on a host over SSH."""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from ..errors import BackendError
from .base import PowerAction

if TYPE_CHECKING:  # paramiko costs ~140 ms to import; only SshPower's methods import it for real
    import paramiko

log = logging.getLogger(__name__)
# A library must not print through logging's last-resort handler: the error already reaches the user
# once, as the BackendError the CLI and igor-tick report.
log.addHandler(logging.NullHandler())

MAX_WORKERS = 64  # what "concurrency 0 = unlimited" means: enough for a rack, not a fork bomb
_OUTPUT_CAP = 64 * 1024  # bytes of stdout/stderr kept per attempt; power tools print a line or two
_ACTIONS: tuple[str, ...] = ("on", "off", "cycle")
_TEMPLATE_KEYS = {"on": "poweroncommand", "off": "poweroffcommand"}


def template_argv(template: str, node: str) -> list[str]:
    """The argv a template means for `node`: split the TEMPLATE (shell-like quoting), then put the node
    name into the one element holding `%s`. Splitting before substituting is what makes a node name (or
    anything else substituted) unable to add arguments; classic igor formatted first and split on spaces.

    Raises ValueError with a sentence for config validation: unbalanced quotes, or not exactly one `%s`.
    """
    try:
        words = shlex.split(template)
    except ValueError as err:
        raise ValueError(f"cannot be split into a command ({err})") from None
    if not words:
        raise ValueError("is empty")
    count = sum(word.count("%s") for word in words)
    if count != 1:
        raise ValueError(f"must contain exactly one %s, where the node name goes (it has {count})")
    return [word.replace("%s", node) for word in words]


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of running one node's command once: `error` is "" on success, else why it failed
    ("exit 1: <first line of stderr>", "timed out after 30s", "not found" ...). `permanent` failures
    (a missing executable) are not retried: retrying cannot help and only delays the report."""

    command: str
    error: str = ""
    permanent: bool = False


Runner = Callable[[list[str]], Attempt]  # runs one rendered argv once, however the backend runs commands


def run_parallel(
    nodes: Sequence[str],
    attempt: Callable[[str], Attempt],
    *,
    workers: int,
    retries: int,
    retry_delay: float,
    what: str,
) -> list[tuple[str, Attempt]]:
    """Run `attempt(node)` for every node on a bounded thread pool, each node up to 1 + `retries` times
    `retry_delay` apart, and return the last failed attempt of every node that never succeeded, in the
    order of `nodes` (classic igor reported them in random order). Shared by every power backend so
    retries, limits and error aggregation behave the same whichever transport runs the command."""
    tries = 1 + max(0, retries)

    def one(node: str) -> Attempt:
        result = Attempt(command="")
        for number in range(1, tries + 1):
            result = attempt(node)
            if not result.error:
                return result
            log.warning(
                "%s attempt %d/%d on %s failed: %s: %s",
                what,
                number,
                tries,
                node,
                result.command,
                result.error,
            )
            if result.permanent:
                break
            if number < tries:
                time.sleep(retry_delay)
        return result

    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(nodes))), thread_name_prefix="power") as pool:
        results = list(pool.map(one, nodes))
    return [(node, result) for node, result in zip(nodes, results, strict=True) if result.error]


def _failure_message(action: str, failures: Sequence[tuple[str, Attempt]]) -> str:
    """`power off failed on kn3 (pdu kn3 off: exit 1: jammed), kn7 (...)`: every node, command, cause."""
    parts = [f"{node} ({result.command}: {result.error})" for node, result in failures]
    return f"power {action} failed on " + ", ".join(parts)


def _first_line(data: bytes) -> str:
    """The first non-blank line of a command's output, short enough for a one-line error."""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 200 else line[:199] + "…"
    return ""


def _exit_error(status: int, stderr: bytes, stdout: bytes) -> str:
    """'exit 1: <why>' using stderr's first line (stdout's when stderr is silent)."""
    why = _first_line(stderr) or _first_line(stdout)
    return f"exit {status}: {why}" if why else f"exit {status}"


def _why(err: BaseException) -> str:
    """An exception as a cause; paramiko raises some (EOFError) without a message."""
    return str(err) or type(err).__name__


def _seconds(value: float) -> str:
    return f"{value:g}s"


class _TemplatePower(abc.ABC):
    """What both backends share: templates, the action vocabulary, the cycle sequence and the parallel
    retrying runner. Subclasses only say how one argv is run (`_session` yields that function)."""

    def __init__(
        self,
        on_template: str,
        off_template: str,
        *,
        timeout: float,
        concurrency: int,
        retries: int,
        retry_delay: float,
        cycle_delay: float,
    ) -> None:
        self.templates = {"on": on_template, "off": off_template}
        self.timeout = timeout
        self.concurrency = concurrency
        self.retries = retries
        self.retry_delay = retry_delay
        self.cycle_delay = cycle_delay

    def power(self, nodes: Sequence[str], action: PowerAction) -> None:
        """Apply `action` to every node. `cycle` switches all nodes off, and only if every one of them went
        off waits `cycle_delay` (so PSUs really drain; classic igor had no delay) and switches all on.
        Raises BackendError naming each failed node with its command and cause; nothing is run when
        the configuration is unusable, so a cycle never strands nodes off for lack of an on-template."""
        if action not in _ACTIONS:
            raise BackendError(f"unknown power action {action!r}; expected on, off or cycle")
        targets = list(dict.fromkeys(nodes))  # a node named twice would race itself
        if not targets:
            return
        steps = ["off", "on"] if action == "cycle" else [str(action)]
        plans = {step: self._plan(step, targets) for step in steps}
        with self._session(action) as run:
            for index, step in enumerate(steps):
                if index:
                    time.sleep(self.cycle_delay)
                failures = self._step(run, plans[step], step)
                if failures:
                    message = _failure_message(step, failures)
                    if action == "cycle" and step == "off":
                        message += "; power cycle stopped, no node was switched back on"
                    raise BackendError(message)

    def _step(self, run: Runner, argvs: dict[str, list[str]], step: str) -> list[tuple[str, Attempt]]:
        return run_parallel(
            list(argvs),
            lambda node: run(argvs[node]),
            workers=self.concurrency if self.concurrency > 0 else MAX_WORKERS,
            retries=self.retries,
            retry_delay=self.retry_delay,
            what=f"power {step}",
        )

    def _plan(self, step: str, nodes: Sequence[str]) -> dict[str, list[str]]:
        key = _TEMPLATE_KEYS[step]
        template = self.templates[step]
        if not template.strip():
            raise BackendError(f"power is not configured ({key} is empty)")
        try:
            return {node: template_argv(template, node) for node in nodes}
        except ValueError as err:
            raise BackendError(f"power {step} is misconfigured: {key} {template!r} {err}") from None

    @abc.abstractmethod
    def _session(self, action: str) -> contextlib.AbstractContextManager[Runner]:
        """The runner for one `power()` call: a subclass opens what its commands need (one SSH
        connection for all nodes) and closes it when the call is done."""


class CommandPower(_TemplatePower):
    """Runs the classic `poweroncommand`/`poweroffcommand` templates on this machine, one process per
    node, in parallel, without a shell (the node name is always exactly one argv element)."""

    def __init__(
        self,
        on_template: str,
        off_template: str,
        *,
        timeout: float = 30.0,
        concurrency: int = 0,
        retries: int = 0,
        retry_delay: float = 1.0,
        cycle_delay: float = 5.0,
    ) -> None:
        super().__init__(
            on_template,
            off_template,
            timeout=timeout,
            concurrency=concurrency,
            retries=retries,
            retry_delay=retry_delay,
            cycle_delay=cycle_delay,
        )

    def __repr__(self) -> str:
        return f"CommandPower(on={self.templates['on']!r}, off={self.templates['off']!r})"

    @contextlib.contextmanager
    def _session(self, action: str) -> Iterator[Runner]:
        yield self._run

    def _run(self, argv: list[str]) -> Attempt:
        """One attempt. The command gets its own process group so a timeout kills whatever it started
        too (a PDU script's `ssh` or `sleep` would otherwise outlive it and pile up every minute)."""
        command = shlex.join(argv)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            return Attempt(command, "not found", permanent=True)
        except PermissionError:
            return Attempt(command, "not executable (permission denied)", permanent=True)
        except OSError as err:
            return Attempt(command, err.strerror or str(err), permanent=True)
        with proc:
            try:
                stdout, stderr = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return Attempt(command, f"timed out after {_seconds(self.timeout)}")
        status = proc.returncode
        if status == 0:
            return Attempt(command)
        if status < 0:
            return Attempt(command, f"killed by {signal.Signals(-status).name}")
        return Attempt(command, _exit_error(status, stderr[:_OUTPUT_CAP], stdout[:_OUTPUT_CAP]))


class _UnknownHostKey(Exception):
    """Raised by our RejectPolicy so an unknown host key is told apart from other SSH failures."""


class SshPower(_TemplatePower):
    """Runs the same templates on a management host (PDU or BMC gateway) over SSH with paramiko.

    The host key must be in `known_hosts` (never trusted on first use). One connection serves a whole
    `power()` call, both halves of a cycle included, with up to `concurrency` commands in flight as
    separate channels (OpenSSH allows 10 sessions per connection by default, hence 8).

    The remote side gets a command line, not an argv, so the template is split and each element
    shell-quoted (shlex.join) after the node name is substituted: a node name stays one word even where
    the template puts `%s` inside quotes. Pipes or redirections in a template therefore reach the remote
    command as literal words; put such logic in a script on the management host.
    """

    def __init__(
        self,
        host: str,
        on_template: str,
        off_template: str,
        *,
        port: int = 22,
        username: str,
        password: str = "",
        key_filename: str = "",
        known_hosts: str,
        timeout: float = 30.0,
        concurrency: int = 8,
        retries: int = 0,
        retry_delay: float = 1.0,
        cycle_delay: float = 5.0,
    ) -> None:
        super().__init__(
            on_template,
            off_template,
            timeout=timeout,
            concurrency=concurrency,
            retries=retries,
            retry_delay=retry_delay,
            cycle_delay=cycle_delay,
        )
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.key_filename = key_filename
        self.known_hosts = known_hosts

    def __repr__(self) -> str:  # never the password
        return f"SshPower({self.username}@{self.host}:{self.port}, on={self.templates['on']!r})"

    @property
    def _where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"

    def _display(self, remote: str) -> str:
        """The command as an admin would retype it to reproduce a failure."""
        return shlex.join(["ssh", "-p", str(self.port), f"{self.username}@{self.host}", remote])

    @contextlib.contextmanager
    def _session(self, action: str) -> Iterator[Runner]:
        lock = threading.Lock()
        clients: list[paramiko.SSHClient] = [self._connect(action)]

        def transport() -> paramiko.Transport:
            """The batch's connection, re-established if it died under us (only on a retry)."""
            with lock:
                current = clients[-1].get_transport()
                if current is not None and current.is_active():
                    return current
                clients.append(self._connect(action))
                fresh = clients[-1].get_transport()
                assert fresh is not None
                return fresh

        def run(argv: list[str]) -> Attempt:
            remote = shlex.join(argv)
            try:
                return self._exec(transport(), remote)
            except BackendError as err:
                return Attempt(self._display(remote), f"connection lost and not re-established: {err}")

        try:
            yield run
        finally:
            for client in clients:
                client.close()

    def _connect(self, action: str) -> paramiko.SSHClient:
        """Connect and authenticate, or raise BackendError saying which of the two failed (and never
        what the password is)."""
        import paramiko

        where = f"power {action}: ssh to {self._where}"
        if not self.known_hosts:
            raise BackendError(f"{where}: no known_hosts file is configured; host keys must be checked")
        if not (self._password or self.key_filename):
            raise BackendError(f"{where}: neither a password nor a key file is configured")

        class Reject(paramiko.RejectPolicy):
            def missing_host_key(
                self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
            ) -> NoReturn:
                raise _UnknownHostKey(f"{hostname} ({key.get_name()} {key.fingerprint})")

        client = paramiko.SSHClient()
        try:
            client.load_system_host_keys(self.known_hosts)  # "system": read only, never written back
        except OSError as err:
            raise BackendError(
                f"{where}: cannot read known_hosts {self.known_hosts}: {err.strerror}"
            ) from None
        client.set_missing_host_key_policy(Reject())
        pkey = self._load_key(where) if self.key_filename else None
        try:
            # Our own socket, for TCP_NODELAY (as OpenSSH sets): without it Nagle and delayed ACKs add
            # ~130 ms to every command on a reused connection, 16 s to power-cycling 64 nodes one by one.
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.connect(
                self.host,
                port=self.port,
                username=self.username,
                password=self._password or None,
                pkey=pkey,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=False,
                sock=sock,
            )
        except _UnknownHostKey as err:
            client.close()
            raise BackendError(
                f"{where}: host key of {err} is not in {self.known_hosts}; refusing to connect "
                f"(add it after checking its fingerprint)"
            ) from None
        except paramiko.BadHostKeyException as err:
            client.close()
            raise BackendError(
                f"{where}: host key MISMATCH: the server offered {err.key.get_name()} {err.key.fingerprint} "
                f"but {self.known_hosts} expects {err.expected_key.fingerprint}; refusing to connect "
                f"(a reinstalled host, or someone in the middle)"
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            method = f"key {self.key_filename}" if self.key_filename else "password"
            if self.key_filename and self._password:
                method = f"key {self.key_filename} and password"
            raise BackendError(f"{where}: authentication as {self.username} failed ({method})") from None
        except (paramiko.SSHException, OSError, EOFError) as err:
            client.close()
            cause = err.strerror if isinstance(err, OSError) and err.strerror else _why(err)
            raise BackendError(f"{where}: cannot connect: {cause}") from None
        return client

    def _load_key(self, where: str) -> paramiko.PKey:
        """Load the private key ourselves: paramiko's own key_filename loop reports a wrong key as a
        parse error of whichever key type it tried last, hiding the real "not authorized"."""
        import paramiko

        try:
            return paramiko.PKey.from_path(self.key_filename, self._password or None)
        except paramiko.PasswordRequiredException:
            raise BackendError(
                f"{where}: key file {self.key_filename} is encrypted and no passphrase is set"
            ) from None
        except OSError as err:
            raise BackendError(f"{where}: cannot read key file {self.key_filename}: {err.strerror}") from None
        except (paramiko.SSHException, ValueError) as err:
            raise BackendError(f"{where}: cannot load key file {self.key_filename}: {err}") from None

    def _exec(self, transport: paramiko.Transport, remote: str) -> Attempt:
        """Run one command on its own channel within `timeout` and take the exit status from the channel.
        A watchdog closes the channel at the deadline, which wakes every blocking paramiko call (its
        exec request has no timeout of its own), and output is drained as it comes so a chatty command
        cannot stall on a full window."""
        import paramiko

        display = self._display(remote)
        started = time.monotonic()
        try:
            channel = transport.open_session(timeout=self.timeout)
        except (paramiko.SSHException, OSError, EOFError) as err:
            return Attempt(display, f"ssh channel refused: {_why(err)}")
        expired = threading.Event()

        def close() -> None:  # closing sends a message, which fails if the connection is already gone
            with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
                channel.close()

        def expire() -> None:
            expired.set()
            close()

        watchdog = threading.Timer(max(0.0, self.timeout - (time.monotonic() - started)), expire)
        watchdog.daemon = True
        watchdog.start()
        stdout, stderr = bytearray(), bytearray()
        status, failure = -1, ""
        try:
            channel.exec_command(remote)
            while chunk := channel.recv(32768):  # stdout EOF is channel EOF: stderr is complete then too
                if len(stdout) < _OUTPUT_CAP:
                    stdout += chunk
                while channel.recv_stderr_ready() and len(stderr) < _OUTPUT_CAP:
                    stderr += channel.recv_stderr(32768)
            while channel.recv_stderr_ready() and len(stderr) < _OUTPUT_CAP:
                stderr += channel.recv_stderr(32768)
            status = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as err:
            failure = f"ssh failed: {_why(err)}"
        finally:
            watchdog.cancel()
            close()
        if status == -1:  # no status: our watchdog closed the channel, the connection died, or an error
            if expired.is_set():
                return Attempt(display, f"timed out after {_seconds(self.timeout)}")
            if not transport.is_active():
                return Attempt(display, "connection lost")
            return Attempt(display, failure or "closed without an exit status")
        if status == 0:
            return Attempt(display)
        return Attempt(display, _exit_error(status, bytes(stderr), bytes(stdout)))
