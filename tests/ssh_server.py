"""A real SSH server on 127.0.0.1 inside the test process (paramiko), answering exec requests from rules.

It records every command, can fail, answer slowly or hang per command pattern, and counts connections and
concurrent commands, so SSH backends are tested against the real protocol without any outside host.
Nothing is ever executed: a "command" is only matched against the rules.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

_WAIT_CAP = 20.0  # the longest any handler waits for anything, so a broken test cannot hang the suite


@dataclass
class Rule:
    """How the server answers commands matching `pattern` (a regex searched in the command line).

    `times` > 0 applies the rule to the first `times` matches only (fail once, then succeed); `hang`
    never answers, until the client closes the channel; `drop` cuts the whole connection; `delay`
    answers late.
    """

    pattern: str
    status: int = 0
    stdout: str = ""
    stderr: str = ""
    hang: bool = False
    drop: bool = False
    delay: float = 0.0
    times: int = 0
    matched: int = field(default=0, init=False)


class SshTestServer:
    """Listens on 127.0.0.1:<free port> with a fresh ECDSA host key; password and public-key auth."""

    def __init__(
        self,
        *,
        username: str = "igor",
        password: str = "",
        authorized_keys: Sequence[paramiko.PKey] = (),
    ) -> None:
        self.host = "127.0.0.1"
        self.username = username
        self.password = password
        self.authorized = {key.asbytes() for key in authorized_keys}
        self.host_key = paramiko.ECDSAKey.generate()
        self.rules: list[Rule] = []
        self.commands: list[str] = []
        self.connections = 0
        self.auth_failures = 0
        self.active = 0
        self.max_active = 0
        self.wait_for_active = 0  # commands wait (bounded) until this many ran at once: proves parallelism
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="ssh-test-server", daemon=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SshTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()

    def __enter__(self) -> SshTestServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def write_known_hosts(self, path: Path, key: paramiko.PKey | None = None) -> Path:
        """A known_hosts file naming this server (or `key` instead, to test a mismatch)."""
        key = key or self.host_key
        path.write_text(f"[{self.host}]:{self.port} {key.get_name()} {key.get_base64()}\n")
        return path

    def add_rule(self, pattern: str, **answer: object) -> Rule:
        rule = Rule(pattern, **answer)  # type: ignore[arg-type]
        self.rules.append(rule)
        return rule

    # ------------------------------------------------------------------ serving

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as sshd does; Nagle adds ~90 ms/command
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        with self._lock:
            self.connections += 1
            self._transports.append(transport)
        try:
            transport.start_server(server=_Interface(self))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()  # the client refused our host key, or went away

    def _rule_for(self, command: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if re.search(rule.pattern, command) and (rule.times == 0 or rule.matched < rule.times):
                    rule.matched += 1
                    return rule
        return None

    def _wait(self, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _WAIT_CAP
        while time.monotonic() < deadline and not self._stopped.is_set() and not predicate():
            time.sleep(0.01)

    def _execute(self, channel: paramiko.Channel, command: str) -> None:
        """Answer one exec request, like a finished command would: output, exit status, EOF. The channel
        is closed by the client (closing it here could overtake the exec request's reply)."""
        with self._lock:
            self.commands.append(command)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.wait_for_active:
                self._wait(lambda: self.max_active >= self.wait_for_active)
            rule = self._rule_for(command)
            if rule is not None and rule.delay:
                time.sleep(rule.delay)
            if rule is not None and rule.drop:
                channel.get_transport().close()
                return
            if rule is not None and rule.hang:
                self._wait(lambda: channel.closed)
                return
            try:
                if rule is not None and rule.stdout:
                    channel.sendall(rule.stdout.encode())
                if rule is not None and rule.stderr:
                    channel.sendall_stderr(rule.stderr.encode())
                channel.send_exit_status(rule.status if rule is not None else 0)
                channel.shutdown_write()
            except (OSError, EOFError, paramiko.SSHException):
                return
        finally:
            with self._lock:
                self.active -= 1
        self._wait(lambda: channel.closed)
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):  # the client may be gone
            channel.close()


class _Interface(paramiko.ServerInterface):
    """Session channels and exec requests only; credentials from the server."""

    def __init__(self, server: SshTestServer) -> None:
        self.server = server

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        if self.server.password and username == self.server.username and password == self.server.password:
            return AUTH_SUCCESSFUL
        self.server.auth_failures += 1
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == self.server.username and key.asbytes() in self.server.authorized:
            return AUTH_SUCCESSFUL
        self.server.auth_failures += 1
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        # Called on the transport's thread: answer on another so channels run concurrently.
        text = command.decode("utf-8", "replace")
        threading.Thread(target=self.server._execute, args=(channel, text), daemon=True).start()
        return True
