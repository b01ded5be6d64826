"""An eAPI-speaking HTTP server on 127.0.0.1 for the Arista backend tests: JSON-RPC, port state, faults.

It is a peer, not a mock: the backend talks real HTTP and JSON-RPC to it. It checks Basic auth, parses
every command against a small grammar of the EOS CLI that igor uses (with EOS's modes: exec, privileged
after `enable`, config after `configure terminal`, interface config after `interface X`), keeps each
port's switchport mode and access VLAN, and answers `show interfaces switchport` in eAPI's JSON shape.

Like real eAPI it runs a request's commands in order and stops at the first failure: the commands before
it STAY APPLIED (EOS does not roll back outside `configure session`), the ones after it never run, and the
JSON-RPC error (code 1002) carries one result per command run, the last holding `errors`.

It writes its own interface-name parsing on purpose (it does not import the backend's), so a bug in the
backend's canonicalisation cannot be mirrored here and go unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import ssl
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INVALID_COMMAND = 1002  # eAPI: a command failed (invalid input, wrong mode, ...)
PATH = "/command-api"

_NAME_RE = re.compile(r"([A-Za-z][A-Za-z-]*) ?(\d+(?:/\d+)*(?:\.\d+)?)")


def ethernet_ports(count: int = 64) -> list[str]:
    """Ethernet1..Ethernet<count>, a fixed-configuration switch's front panel."""
    return [f"Ethernet{i}" for i in range(1, count + 1)]


@dataclass
class PortState:
    """One switchport as EOS reports it: `mode` in eAPI's JSON spelling, and the access VLAN."""

    mode: str = "access"  # "access", "dot1qTunnel" or "trunk"
    access_vlan: int = 1


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as received, for assertions (the Authorization header is kept verbatim)."""

    method: str
    path: str
    authorization: str
    authorized: bool
    body: str
    cmds: tuple[str, ...]


class CommandFailed(Exception):
    """A command the fake switch's CLI rejects; `errors` becomes the result's `errors` list."""

    def __init__(self, *errors: str) -> None:
        super().__init__(errors[0] if errors else "invalid command")
        self.errors = list(errors)


@dataclass
class _Session:
    """The CLI mode of one runCmds request; every request starts unprivileged, as in eAPI."""

    mode: str = "exec"  # exec -> enable -> config -> config-if
    interface: str = ""


@dataclass
class FakeEapi:
    """The server. Use as a context manager (or start/stop); set the fault attributes at any time.

    Faults: `http_status` (answer every POST with that status and `http_body`), `rpc_error` (code,
    message) for every runCmds, `hang` seconds to wait before answering: a slow switch that still applies
    the commands after the wait, unless stop() cuts the wait short.
    """

    ports: Iterable[str] = field(default_factory=ethernet_ports)
    username: str = "admin"
    password: str = "s3cret-pw"
    http_status: int | None = None
    http_body: str = ""
    rpc_error: tuple[int, str] | None = None
    hang: float = 0.0
    tls_cert: str = ""  # PEM certificate (and key, in tls_key): serve https instead of http
    tls_key: str = ""
    state: dict[str, PortState] = field(init=False)
    vlans: set[int] = field(init=False, default_factory=lambda: {1})
    requests: list[RecordedRequest] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.state = {name: PortState() for name in self.ports}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ control

    @property
    def port(self) -> int:
        """The TCP port the server listens on (127.0.0.1)."""
        assert self._server is not None, "FakeEapi not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The full eAPI URL."""
        return f"{'https' if self.tls_cert else 'http'}://127.0.0.1:{self.port}{PATH}"

    @property
    def classic_url(self) -> str:
        """Classic igor's `network_url` form: no scheme, `host:port/command-api`."""
        return f"127.0.0.1:{self.port}{PATH}"

    def start(self) -> FakeEapi:
        """Listen on an ephemeral 127.0.0.1 port and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        if self.tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_cert, self.tls_key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._released.clear()
        # A short poll interval so stop() (shutdown waits for the loop to notice) takes ms, not 0.5 s.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-eapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeEapi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def vlan_of(self, port: str) -> tuple[str, int]:
        """(mode, access VLAN) of a port by its canonical name, for assertions."""
        with self._lock:
            st = self.state[port]
            return st.mode, st.access_vlan

    def run_cmds_requests(self) -> list[RecordedRequest]:
        """The recorded requests that were authorised runCmds calls."""
        with self._lock:
            return [r for r in self.requests if r.authorized and r.cmds]

    # ----------------------------------------------------------------------------------------- serving

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.username and password == self.password

    def _wait_hang(self) -> bool:
        """Sleep `hang` seconds; False when stop() cut it short (then the request is dropped unapplied,
        so a test's state does not change behind its back after the client gave up)."""
        return not (self.hang > 0 and self._released.wait(self.hang))

    def handle_rpc(self, doc: Any) -> dict[str, Any]:
        """A JSON-RPC reply object for a parsed request body."""
        req_id = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or doc.get("jsonrpc") != "2.0" or "method" not in doc:
            return _rpc_error(req_id, -32600, "Invalid request")
        if doc["method"] != "runCmds":
            return _rpc_error(req_id, -32601, f"Method not found: {doc['method']!r}")
        params = doc.get("params")
        if not isinstance(params, dict) or params.get("version") not in (1, "latest"):
            return _rpc_error(req_id, -32602, "Invalid params: expected version 1")
        if params.get("format", "json") != "json":
            return _rpc_error(req_id, -32602, "Invalid params: this fake only speaks format json")
        cmds = _command_texts(params.get("cmds"))
        if cmds is None:
            return _rpc_error(req_id, -32602, "Invalid params: cmds must be a list of commands")
        if self.rpc_error is not None:
            code, message = self.rpc_error
            return _rpc_error(req_id, code, message, [])
        results: list[dict[str, Any]] = []
        session = _Session()
        with self._lock:
            for i, cmd in enumerate(cmds):
                try:
                    results.append(self._execute(session, cmd))
                except CommandFailed as failed:
                    results.append({"errors": failed.errors})
                    message = f"CLI command {i + 1} of {len(cmds)} {cmd!r} failed: invalid command"
                    return _rpc_error(req_id, INVALID_COMMAND, message, results)
        return {"jsonrpc": "2.0", "id": req_id, "result": results}

    # ------------------------------------------------------------------------------------ the EOS CLI

    def _execute(self, session: _Session, cmd: str) -> dict[str, Any]:
        """Run one command against the state (lock held); raise CommandFailed like the EOS parser."""
        words = cmd.split()
        low = [w.lower() for w in words]
        if "\n" in cmd or ";" in cmd or not words:
            raise CommandFailed(f"Invalid input (at token 0: {cmd!r})")
        if low == ["enable"]:
            if session.mode == "exec":
                session.mode = "enable"
            return {}
        if low == ["show", "interfaces", "switchport"]:
            return self._show_switchport()
        if low in (["configure"], ["configure", "terminal"]):
            if session.mode == "exec":
                raise CommandFailed("Invalid input (privileged mode required)")
            session.mode, session.interface = "config", ""
            return {}
        if low == ["end"]:
            if session.mode not in ("config", "config-if"):
                raise CommandFailed("Invalid input (at token 0: 'end')")
            session.mode, session.interface = "enable", ""
            return {}
        if low[0] == "interface":
            if session.mode not in ("config", "config-if"):
                raise CommandFailed("Invalid input (at token 0: 'interface')")
            name = self._known_port(" ".join(words[1:]))
            if name is None:
                raise CommandFailed(f"Invalid input (at token 1: {' '.join(words[1:])!r})")
            session.mode, session.interface = "config-if", name
            return {}
        if low[0] in ("switchport", "no"):
            if session.mode != "config-if":
                raise CommandFailed(f"Invalid input (at token 0: {words[0]!r})")
            return self._switchport(self.state[session.interface], low)
        raise CommandFailed(f"Invalid input (at token 0: {words[0]!r})")

    def _switchport(self, port: PortState, low: list[str]) -> dict[str, Any]:
        modes = {"access": "access", "dot1q-tunnel": "dot1qTunnel", "trunk": "trunk"}
        if low[:2] == ["switchport", "mode"] and len(low) == 3 and low[2] in modes:
            port.mode = modes[low[2]]
            return {}
        if low[:3] == ["switchport", "access", "vlan"] and len(low) == 4:
            if not low[3].isdigit() or not 1 <= int(low[3]) <= 4094:
                raise CommandFailed(f"Invalid input (at token 3: {low[3]!r})")
            port.access_vlan = int(low[3])
            self.vlans.add(port.access_vlan)  # EOS creates a missing access VLAN, with a warning
            return {}
        if low in (["no", "switchport", "access", "vlan"], ["default", "switchport", "access", "vlan"]):
            port.access_vlan = 1
            return {}
        raise CommandFailed(f"Invalid input (at token 1: {' '.join(low[1:])!r})")

    def _known_port(self, text: str) -> str | None:
        """The configured port `text` names: any prefix (>= 2 letters) of the type word, any case."""
        match = _NAME_RE.fullmatch(text.strip())
        if match is None:
            return None
        word, number = match.group(1).lower(), match.group(2)
        for name in self.state:
            known = _NAME_RE.fullmatch(name)
            if known is None or known.group(2) != number:
                continue
            full = known.group(1).lower()
            if (len(word) >= 2 or word == full) and full.startswith(word):
                return name
        return None

    def _show_switchport(self) -> dict[str, Any]:
        """`show interfaces switchport` in eAPI's JSON shape (keys are full interface names)."""
        table: dict[str, Any] = {}
        for name, st in self.state.items():
            table[name] = {
                "enabled": True,
                "switchportInfo": {
                    "mode": st.mode,
                    "accessVlanId": st.access_vlan,
                    "accessVlanName": "default" if st.access_vlan == 1 else f"VLAN{st.access_vlan:04d}",
                    "trunkingNativeVlanId": 1,
                    "trunkingNativeVlanName": "default",
                    "trunkAllowedVlans": "ALL",
                    "tpid": "0x8100",
                    "tpidStatus": True,
                    "macLearning": True,
                    "dot1qVlanTagRequired": False,
                    "dot1qVlanTagRequiredStatus": False,
                    "sourceportFilterMode": "enabled",
                    "staticTrunkGroups": [],
                    "dynamicTrunkGroups": [],
                    "dynamicAllowedVlans": {},
                },
            }
        return {"switchports": table}


def _command_texts(cmds: object) -> list[str] | None:
    """The command strings of a runCmds `cmds` list (strings or {"cmd": ..., "input": ...}), or None."""
    if not isinstance(cmds, list) or not cmds:
        return None
    texts: list[str] = []
    for item in cmds:
        if isinstance(item, dict) and isinstance(item.get("cmd"), str):
            texts.append(item["cmd"])
        elif isinstance(item, str):
            texts.append(item)
        else:
            return None
    return texts


def _rpc_error(req_id: Any, code: int, message: str, data: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": req_id, "error": error}


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hung up (a timed-out backend call does exactly that)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP side: auth, faults, JSON parsing; the CLI work is FakeEapi.handle_rpc."""

    server_version = "FakeEapi/1"

    @property
    def fake(self) -> FakeEapi:
        fake: FakeEapi = self.server.fake  # type: ignore[attr-defined]
        return fake

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line."""

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(405, b"method not allowed\n", "text/plain")

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        header = self.headers.get("Authorization") or ""
        authorized = fake._authorized(header)
        try:
            doc: Any = json.loads(raw)
        except ValueError:
            doc = None
        params = doc.get("params") if isinstance(doc, dict) else None
        cmds = _command_texts(params.get("cmds")) if isinstance(params, dict) else None
        fake._record(RecordedRequest("POST", self.path, header, authorized, raw, tuple(cmds or ())))
        if not fake._wait_hang():
            self.close_connection = True
        elif self.path.split("?")[0] != PATH:
            self._send(404, b"not found\n", "text/plain")
        elif not authorized:
            self._send(401, b"Unauthorized\n", "text/plain", {"WWW-Authenticate": 'Basic realm="eAPI"'})
        elif fake.http_status is not None:
            self._send(fake.http_status, fake.http_body.encode(), "text/plain")
        elif doc is None:
            self._send(200, json.dumps(_rpc_error(None, -32700, "Parse error")).encode(), "application/json")
        else:
            self._send(200, json.dumps(fake.handle_rpc(doc)).encode(), "application/json")


@contextmanager
def running(**kwargs: Any) -> Iterator[FakeEapi]:
    """`with running(password="x") as switch:` a started FakeEapi, stopped afterwards."""
    with FakeEapi(**kwargs) as fake:
        yield fake


# ------------------------------------------------------------------------------------ a faulty switch

SWITCH_PASSWORD = "s3cret-pw"
"""The password of the `switch` fixture (conftest.py): tests check it never shows in igor's output."""


class _FaultyHandler(_Handler):
    """FakeEapi's handler, but a request touching one of the switch's `fault_ports` gets the fault."""

    def do_POST(self) -> None:
        fake = self.fake
        assert isinstance(fake, FaultySwitch)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not fake.faulty(raw):
            self.rfile = io.BytesIO(raw)  # hand the body back to the real handler
            super().do_POST()
            return
        fake.faults_served += 1
        if fake.fault == "hang":
            fake._released.wait(fake.hang_seconds)  # longer than network_timeout: the client gives up
            self.close_connection = True
        elif fake.fault == "http500":
            self._send(500, b"Internal Server Error: eAPI agent crashed\n", "text/plain")
        else:  # "rpc": a JSON-RPC error member, HTTP 200
            doc = json.loads(raw)
            body = _rpc_error(doc.get("id"), 1000, "could not run command: ASIC programming failed", [])
            self._send(200, json.dumps(body).encode(), "application/json")


@dataclass
class FaultySwitch(FakeEapi):
    """A FakeEapi whose faults hit only requests that configure one of `fault_ports` (canonical names),
    so a fault test can show that another reservation's ports on the same switch still get done.

    `fault`: "" (none), "rpc" (JSON-RPC error), "hang" (no answer for `hang_seconds`), "http500"."""

    fault: str = ""
    fault_ports: set[str] = field(default_factory=set)
    hang_seconds: float = 5.0
    faults_served: int = 0

    def start(self) -> FaultySwitch:
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass = _FaultyHandler
        return self

    def faulty(self, raw: bytes) -> bool:
        if not self.fault:
            return False
        try:
            cmds = json.loads(raw)["params"]["cmds"]
        except (ValueError, KeyError, TypeError):
            return False
        return any(
            isinstance(cmd, str)
            and cmd.lower().startswith("interface ")
            and self._known_port(cmd.split(None, 1)[1]) in self.fault_ports
            for cmd in cmds
        )

    def set_port(self, port: str, mode: str, vlan: int) -> None:
        """Change a port behind igor's back (what an operator at the switch console would do)."""
        with self._lock:
            self.state[port].mode = mode
            self.state[port].access_vlan = vlan
