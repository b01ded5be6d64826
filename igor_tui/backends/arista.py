"""Arista eAPI switch backend: moves node ports in and out of a reservation's QinQ VLAN over JSON-RPC.

Classic igor sent one request per node with the password in the URL and ignored both the HTTP status and
the JSON-RPC `error` member (spec §7.2, §11 item 11). Here every call is one `runCmds` request for all
ports, credentials travel only in a Basic auth header, and any failure becomes a BackendError that names
the switch, the command the switch rejected and why, without ever containing the password.

Real eAPI runs the commands of a request in order and stops at the first one that fails; the commands
before it stay applied (there is no rollback outside `configure session`). Every call here is idempotent,
so the tick completes a half-applied change by retrying it, or undoes it with `clear`.

`requests` is imported inside the methods: `igor` and `igor-tick` import this module on paths that never
talk to a switch and must not pay for it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import BackendError, ConfigError, ValidationError

if TYPE_CHECKING:
    import requests

VLAN_MIN = 1
VLAN_MAX = 4094
DEFAULT_PATH = "/command-api"

# A plain interface name: a type word ("Et", "Ethernet", "Port-Channel"), an optional single space, then
# the number, slot/port parts and an optional sub-interface. No ranges, lists, newlines or separators, so
# a port can never smuggle a second command into the list.
_PORT_RE = re.compile(r"[A-Za-z][A-Za-z-]{0,19} ?\d{1,4}(?:/\d{1,4}){0,3}(?:\.\d{1,5})?")
_PORT_PARTS_RE = re.compile(r"([A-Za-z][A-Za-z-]*) ?(\d.*)")
_INTERFACE_TYPES = ("Ethernet", "Port-Channel", "Management", "Loopback", "Vlan", "Vxlan", "Tunnel")
_CLI_COMMAND_RE = re.compile(r"CLI command (\d+) of (\d+)")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")
_EXCERPT = 200
_ids = itertools.count(1)


def validate_port(port: object) -> str:
    """The port name if it is a plain interface name (e.g. 'Et1/1'), else ValidationError.

    Public so config loading can reject a bad `node_map` value up front instead of at the first tick.
    """
    if not isinstance(port, str) or _PORT_RE.fullmatch(port) is None:
        raise ValidationError(
            f"invalid switch port name {port!r}: expected a single interface such as 'Et1' or 'Ethernet1/1'"
        )
    return port


def canonical_port(port: str) -> str:
    """EOS's full spelling of an interface name ('et1/1' -> 'Ethernet1/1'), to match `show` output keys.

    EOS accepts any unambiguous prefix of the type word in commands but reports full names, and the
    node_map holds whatever the admin typed; both sides are canonicalised before comparing.
    """
    match = _PORT_PARTS_RE.fullmatch(port.strip())
    if match is None:
        return port
    word, rest = match.group(1).lower().replace("-", ""), match.group(2)
    for full in _INTERFACE_TYPES:
        if full.lower().replace("-", "").startswith(word):
            return full + rest
    return match.group(1) + rest


def _validate_vlan(vlan: object) -> int:
    """The VLAN if it is an int in 1..4094 (bool excluded), else ValidationError."""
    if isinstance(vlan, bool) or not isinstance(vlan, int) or not VLAN_MIN <= vlan <= VLAN_MAX:
        raise ValidationError(f"invalid VLAN {vlan!r}: expected a number from {VLAN_MIN} to {VLAN_MAX}")
    return vlan


def _ports_text(ports: Sequence[str]) -> str:
    """A short human list of ports for messages: 'Et1, Et2, Et3 (+61 more)'."""
    shown = ", ".join(ports[:3])
    return shown + (f" (+{len(ports) - 3} more)" if len(ports) > 3 else "")


def _normal_mode(mode: object) -> str:
    """'dot1qTunnel', 'dot1q-tunnel' and 'DOT1Q_TUNNEL' all become 'dot1qtunnel'."""
    return re.sub(r"[-_ ]", "", str(mode)).lower()


class AristaSwitch:
    """SwitchBackend for an Arista switch reachable over eAPI (`management api http-commands`)."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        verify_tls: bool = True,
        ca_file: str = "",
    ) -> None:
        """`url` is classic igor's `network_url` (`host:port/command-api`, meaning http) or a full
        http(s) URL; a bare host gets the standard `/command-api` path. `timeout` bounds the connect and
        each wait for the switch, in seconds. `ca_file` is a PEM bundle to verify an https switch against
        (the system store otherwise); `verify_tls=False` disables verification entirely.
        """
        raw = url.strip()
        if "://" not in raw:
            raw = "http://" + raw
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https"):
            raise ConfigError(f"network_url: unsupported scheme {parts.scheme!r}; expected http or https")
        if "@" in parts.netloc:
            # Never echo the value: it holds a password.
            raise ConfigError("network_url must not contain credentials; use networkuser/networkpassword")
        try:
            _ = parts.port  # urlsplit only checks the port when asked
        except ValueError as exc:
            raise ConfigError(f"network_url {url!r}: bad port number") from exc
        if not parts.hostname:
            raise ConfigError(f"network_url {url!r}: no host name")
        if not timeout > 0:
            raise ConfigError(f"network_timeout must be a positive number of seconds, got {timeout!r}")
        path = parts.path or DEFAULT_PATH
        self.url = f"{parts.scheme}://{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")
        self.where = parts.netloc
        self.username = username
        self._password = password
        self.timeout = float(timeout)
        self._verify: bool | str = (ca_file or True) if verify_tls else False

    def __repr__(self) -> str:
        return f"AristaSwitch(url={self.url!r}, username={self.username!r}, timeout={self.timeout:g})"

    # ------------------------------------------------------------------------------------ SwitchBackend

    def set_vlan(self, ports: Sequence[str], vlan: int) -> None:
        """Make every port a dot1q-tunnel (QinQ) port in `vlan`, in one request. Idempotent.

        QinQ rather than plain access mode so users can run their own 802.1Q VLANs inside the reservation,
        as classic igor did.
        """
        vlan = _validate_vlan(vlan)
        unique = self._checked_ports(ports)
        if not unique:
            return
        cmds = ["enable", "configure terminal"]
        for port in unique:
            cmds += [f"interface {port}", "switchport mode dot1q-tunnel", f"switchport access vlan {vlan}"]
        self._run(cmds, f"setting VLAN {vlan} on {_ports_text(unique)}")

    def clear(self, ports: Sequence[str]) -> None:
        """Return every port to a plain access port in the default VLAN, in one request. Idempotent."""
        unique = self._checked_ports(ports)
        if not unique:
            return
        cmds = ["enable", "configure terminal"]
        for port in unique:
            cmds += [f"interface {port}", "no switchport access vlan", "switchport mode access"]
        self._run(cmds, f"clearing {_ports_text(unique)}")

    def port_vlans(self, ports: Sequence[str]) -> Mapping[str, int | None]:
        """Each port's reservation VLAN as the switch has it (a dot1q-tunnel port's access VLAN), or None.

        A port the switch does not list as a switchport is an error rather than None: it means node_map
        is wrong, and `igor sync` must not report it as merely "cleared".
        """
        unique = self._checked_ports(ports)
        if not unique:
            return {}
        (shown,) = self._run(["show interfaces switchport"], "reading port VLANs")
        table = shown.get("switchports")
        if not isinstance(table, Mapping):
            raise BackendError(
                f"switch {self.where}: `show interfaces switchport` answered without a 'switchports' object"
            )
        by_name = {canonical_port(str(name)): info for name, info in table.items()}
        result: dict[str, int | None] = {}
        missing: list[str] = []
        for port in unique:
            info = by_name.get(canonical_port(port))
            if not isinstance(info, Mapping):
                missing.append(port)
                continue
            result[port] = self._tunnel_vlan(port, info)
        if missing:
            raise BackendError(
                f"switch {self.where} has no switchport {_ports_text(missing)} (check node_map)"
            )
        return result

    # ---------------------------------------------------------------------------------------- helpers

    def _tunnel_vlan(self, port: str, info: Mapping[str, Any]) -> int | None:
        """The VLAN of a dot1q-tunnel port; None for access, trunk or anything else."""
        details = info.get("switchportInfo", info)
        if not isinstance(details, Mapping):
            raise BackendError(f"switch {self.where}: unreadable switchport data for {port}")
        if _normal_mode(details.get("mode")) != "dot1qtunnel":
            return None
        vlan = details.get("accessVlanId")
        try:
            return _validate_vlan(int(str(vlan)))  # tolerates "100" as well as 100
        except (TypeError, ValueError, ValidationError) as exc:
            raise BackendError(
                f"switch {self.where}: port {port} is dot1q-tunnel with unreadable VLAN {vlan!r}"
            ) from exc

    def _checked_ports(self, ports: Sequence[str]) -> list[str]:
        """Every port validated (all before anything is sent), duplicates dropped, order kept."""
        if isinstance(ports, str):
            raise ValidationError("switch ports must be a list of port names, not a single string")
        return list(dict.fromkeys(validate_port(p) for p in ports))

    def _scrub(self, text: str) -> str:
        """Foreign text (bodies, exception strings) with the password masked, in case anything echoes it."""
        return text.replace(self._password, "<PASSWORD>") if self._password else text

    def _excerpt(self, text: str) -> str:
        """A short single-line excerpt of a response body for an error message."""
        flat = " ".join(self._scrub(text).split())
        return flat[:_EXCERPT] + ("..." if len(flat) > _EXCERPT else "")

    def _run(self, cmds: list[str], action: str) -> list[Mapping[str, Any]]:
        """POST one runCmds request and return one result object per command, or raise BackendError."""
        import requests

        if self._verify is False:
            self._quiet_insecure_warning()
        request_id = f"igor-{next(_ids)}"
        body = {
            "jsonrpc": "2.0",
            "method": "runCmds",
            "params": {"version": 1, "cmds": cmds, "format": "json"},
            "id": request_id,
        }
        try:
            with requests.Session() as session:
                # No proxies, .netrc or CA bundles from the environment: the switch is on the management
                # network and what igor sends it must not depend on who runs the tick.
                session.trust_env = False
                response = session.post(
                    self.url,
                    json=body,
                    auth=(self.username, self._password),
                    timeout=self.timeout,
                    verify=self._verify,
                    allow_redirects=False,
                )
        except requests.Timeout as exc:
            raise BackendError(
                f"switch {self.where} did not answer within {self.timeout:g}s while {action}"
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise BackendError(
                f"switch {self.where}: TLS failed while {action}: {self._reason(exc)}"
                " (set network_ca_file, or network_verify_tls: false for a self-signed switch)"
            ) from exc
        except requests.ConnectionError as exc:
            raise BackendError(
                f"switch {self.where} unreachable while {action}: {self._reason(exc)}"
            ) from exc
        except requests.RequestException as exc:
            raise BackendError(
                f"switch {self.where}: request failed while {action}: {self._reason(exc)}"
            ) from exc
        return self._results(response, cmds, action, request_id)

    def _quiet_insecure_warning(self) -> None:
        """Drop urllib3's per-request warning for this switch only: the admin turned verification off
        on purpose, and a cron job repeating it every minute would only bury real errors."""
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        host = re.escape(urlsplit(self.url).hostname or "")
        warnings.filterwarnings(
            "ignore",
            message=f"Unverified HTTPS request is being made to host '{host}'",
            category=InsecureRequestWarning,
        )

    def _reason(self, exc: Exception) -> str:
        """The root cause of a requests exception in a few words ('Connection refused')."""
        text = str(exc)
        found = _ERRNO_RE.findall(text)
        return self._scrub(found[-1].strip() if found else type(exc).__name__)

    def _results(
        self, response: requests.Response, cmds: list[str], action: str, request_id: str
    ) -> list[Mapping[str, Any]]:
        """Check status, JSON-RPC envelope and error member; the per-command results on success."""
        status = response.status_code
        if status == 401:
            raise BackendError(
                f"switch {self.where} refused the credentials of user {self.username!r} (HTTP 401)"
                f" while {action}"
            )
        if status != 200:
            extra = ""
            if 300 <= status < 400 and response.headers.get("Location"):
                extra = f" redirect to {self._excerpt(response.headers['Location'])}"
            raise BackendError(
                f"switch {self.where} answered HTTP {status} while {action}:{extra}"
                f" {self._excerpt(response.text) or '(empty body)'}"
            )
        try:
            doc = response.json()
        except ValueError as exc:
            raise BackendError(
                f"switch {self.where} answered with something that is not JSON while {action}:"
                f" {self._excerpt(response.text)}"
            ) from exc
        if not isinstance(doc, dict):
            raise BackendError(
                f"switch {self.where} answered with a non-object JSON-RPC reply while {action}"
            )
        if doc.get("id") not in (None, request_id):
            raise BackendError(f"switch {self.where} answered another request's id while {action}")
        error = doc.get("error")
        if error is not None:
            raise BackendError(self._rejected(error, cmds, action))
        results = doc.get("result")
        if not isinstance(results, list) or len(results) != len(cmds):
            count = len(results) if isinstance(results, list) else "no"
            raise BackendError(
                f"switch {self.where} answered {count} results for {len(cmds)} commands while {action}"
            )
        if not all(isinstance(r, dict) for r in results):
            raise BackendError(f"switch {self.where} answered a non-object command result while {action}")
        return results

    def _rejected(self, error: object, cmds: list[str], action: str) -> str:
        """The sentence for a JSON-RPC error, naming the command that failed when the reply tells which.

        eAPI's `data` holds one result per command it ran; the last one carries `errors` and is the
        failing command. The message ("CLI command 3 of 5 'x' failed: ...") says the same; either will do.
        """
        if not isinstance(error, Mapping):
            return f"switch {self.where} answered a malformed JSON-RPC error while {action}"
        code = error.get("code", "?")
        message = self._scrub(str(error.get("message", "")).strip()) or "no message"
        data = error.get("data")
        index: int | None = None
        details: list[str] = []
        if isinstance(data, list) and data and isinstance(data[-1], Mapping) and data[-1].get("errors"):
            index = len(data) - 1
            errors = data[-1]["errors"]
            details = [self._scrub(str(e)) for e in (errors if isinstance(errors, list) else [errors])]
        else:
            numbered = _CLI_COMMAND_RE.search(message)
            if numbered is not None:
                index = int(numbered.group(1)) - 1
        if index is not None and 0 <= index < len(cmds):
            why = "; ".join(details) if details else message
            return (
                f"switch {self.where} rejected `{cmds[index]}` (command {index + 1} of {len(cmds)})"
                f" while {action}: {why} [eAPI error {code}]"
            )
        return f"switch {self.where} returned eAPI error {code} while {action}: {message}"
