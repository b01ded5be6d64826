"""How igor talks to Cobbler: the `cobbler` CLI or cobblerd's XML-RPC API, behind one small protocol.

The CLI (the default, as classic igor did) needs no credentials but costs ~300 ms of Python start-up per
call; XML-RPC at a configured URL costs ~1 ms per call and is the only way to hand Cobbler kernel arguments
whose quoted values contain spaces without Cobbler rewriting them. Both make the same object edits
(`xapi_object_edit`, which the CLI itself calls), so they behave alike apart from that kernel-argument
caveat. Kept apart from `cobbler.py` so the boot logic (what to create, roll back and tear down) reads
without the subprocess and XML-RPC error plumbing, and each transport can be read on its own.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import threading
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BackendError

if TYPE_CHECKING:
    import xmlrpc.client

_MAX_SHOWN = 300  # a command shown in an error is cut here (kernel args can be long)


class CallFailed(BackendError):
    """One Cobbler call failed; `detail` is Cobbler's own one-line reason, for callers that inspect it."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class Unreachable(BackendError):
    """cobblerd did not answer at all; every further call would fail the same way."""


def _cli_mangled(tokens: Sequence[str]) -> list[str]:
    """Arguments the CLI cannot pass intact: Cobbler splits each at its first "=" and re-renders the value
    in single quotes when it holds a space (which Linux does not understand), and drops an empty value's
    "="."""
    bad = []
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and (not key or not value or " " in value):
            bad.append(token)
    return bad


class Transport(Protocol):
    """The handful of Cobbler operations igor needs, over the CLI or XML-RPC."""

    def begin(self) -> None:
        """Prepare for a batch of calls (XML-RPC: log in once)."""
        ...

    def ping(self) -> None: ...

    def names(self, kind: str) -> list[str]: ...

    def find(self, kind: str, criteria: dict[str, str]) -> list[str]: ...

    def edit(self, kind: str, name: str, action: str, attrs: dict[str, Any], node: str = "") -> None:
        """`action` is add, edit or remove; `attrs` uses Cobbler's field names (kernel_options, ...)."""
        ...

    def kernel_options(self, tokens: Sequence[str]) -> Any:
        """`tokens` in the form this transport must send so Cobbler renders them unchanged."""
        ...


def _edit_args(kind: str, action: str, name: str, attrs: dict[str, Any]) -> list[str]:
    """The CLI arguments of one object edit; over XML-RPC, how the step is named in errors."""
    args = [kind, action, f"--name={name}"]
    for key, value in attrs.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, dict):
            text = " ".join(value)  # XML-RPC kernel options: the arguments are the keys
        else:
            text = str(value)
        args.append(f"--{key.replace('_', '-')}={text}")
    return args


def _shown(argv: Sequence[str]) -> str:
    text = shlex.join(argv)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _server_detail(text: str) -> str:
    """Cobbler's reason from a fault string or CLI output, without the exception class and quotes."""
    if ">:" in text:
        text = text.split(">:", 1)[1]
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


class CliTransport:
    """Runs the `cobbler` command (argv, no shell, timeout)."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout

    def begin(self) -> None:
        return None

    def _run(self, args: Sequence[str], node: str = "") -> str:
        argv = [self.command, *args]
        where = f"{node}: " if node else ""
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise Unreachable(f"cobbler: command not found: {self.command}") from None
        except PermissionError:
            raise Unreachable(f"cobbler: cannot execute {self.command} (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise Unreachable(
                f"{where}{_shown(['cobbler', *args])}: timed out after {self.timeout:g}s"
            ) from None
        if proc.returncode == 0:
            return proc.stdout
        unreachable = _cli_unreachable(proc.stdout + proc.stderr)
        if unreachable:
            raise Unreachable(f"cobbler: cannot reach cobblerd ({unreachable})")
        detail = _cli_detail(proc.stdout, proc.stderr) or "no output"
        raise CallFailed(
            f"{where}{_shown(['cobbler', *args])}: {detail} (exit status {proc.returncode})", detail
        )

    def ping(self) -> None:
        self._run(["version"])

    def names(self, kind: str) -> list[str]:
        return [line.strip() for line in self._run([kind, "list"]).splitlines() if line.strip()]

    def find(self, kind: str, criteria: dict[str, str]) -> list[str]:
        args = [kind, "find", *(f"--{k.replace('_', '-')}={v}" for k, v in criteria.items())]
        return [line.strip() for line in self._run(args).splitlines() if line.strip()]

    def edit(self, kind: str, name: str, action: str, attrs: dict[str, Any], node: str = "") -> None:
        self._run(_edit_args(kind, action, name, attrs), node)

    def kernel_options(self, tokens: Sequence[str]) -> Any:
        bad = _cli_mangled(tokens)
        if bad:
            raise BackendError(
                f"cobbler: the cobbler CLI would rewrite kernel argument {bad[0]} (it re-quotes a value with "
                "spaces in single quotes, which Linux misreads, and drops an empty one); use Cobbler's "
                "XML-RPC URL instead"
            )
        return " ".join(shlex.quote(t) for t in tokens)


def _cli_unreachable(output: str) -> str:
    """The reason when the CLI could not talk to cobblerd at all ("" otherwise)."""
    match = re.search(r"does not appear to be running[^:]*: (.*)", output)
    if match:
        reason = match.group(1).strip()
        inner = re.search(r"Error\(\d+, '([^']*)'\)", reason)
        return inner.group(1) if inner else reason
    if "Traceback (most recent call last)" in output:
        last = [line for line in output.strip().splitlines() if line.strip()][-1].strip()
        if re.search(r"Connection|socket|timed out|RemoteDisconnected|Errno|ProtocolError|refused", last):
            return last
    return ""


def _cli_detail(stdout: str, stderr: str) -> str:
    """The one line worth showing from a failed CLI call."""
    match = re.search(r"exception on server: (.*)", stdout)
    if match:
        return _server_detail(match.group(1))
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    if "### ERROR ###" in stdout and lines:
        return _server_detail(lines[-1])
    return lines[-1] if lines else ""


class XmlRpcTransport:
    """cobblerd's XML-RPC API (`xapi_object_edit`, the call the CLI itself makes)."""

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"cobbler: XML-RPC URL {self._redact(url)!r} is not an http(s) URL")
        self.url = url
        self.shown_url = self._redact(url)
        self.username = username
        self.password = password
        self.timeout = timeout
        self.token = ""
        self._local = threading.local()  # ServerProxy is not thread-safe: one per thread

    @staticmethod
    def _redact(url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def _proxy(self) -> xmlrpc.client.ServerProxy:
        import xmlrpc.client  # only XML-RPC users pay for it (~40 ms with http.client)

        proxy: xmlrpc.client.ServerProxy | None = getattr(self._local, "proxy", None)
        if proxy is None:
            base = xmlrpc.client.SafeTransport if self.url.startswith("https:") else xmlrpc.client.Transport
            timeout = self.timeout

            class WithTimeout(base):  # type: ignore[valid-type,misc]
                def make_connection(self, host: Any) -> Any:
                    conn = super().make_connection(host)
                    conn.timeout = timeout
                    return conn

            proxy = xmlrpc.client.ServerProxy(self.url, transport=WithTimeout())
            self._local.proxy = proxy
        return proxy

    def _call(self, step: str, method: str, *args: Any, node: str = "") -> Any:
        import http.client
        import xml.parsers.expat
        import xmlrpc.client

        where = f"{node}: " if node else ""
        try:
            return getattr(self._proxy(), method)(*args)
        except xmlrpc.client.Fault as fault:
            detail = _server_detail(str(fault.faultString)) or f"fault {fault.faultCode}"
            raise CallFailed(f"{where}{step}: {detail}", detail) from None
        except xmlrpc.client.ProtocolError as err:
            raise Unreachable(
                f"cobbler: cannot reach cobblerd at {self.shown_url} (HTTP {err.errcode} {err.errmsg})"
            ) from None
        except TimeoutError:
            raise Unreachable(
                f"cobbler: cannot reach cobblerd at {self.shown_url} (no answer within {self.timeout:g}s)"
            ) from None
        except OSError as err:
            reason = err.strerror or str(err) or type(err).__name__
            raise Unreachable(f"cobbler: cannot reach cobblerd at {self.shown_url} ({reason})") from None
        except (xmlrpc.client.ResponseError, http.client.HTTPException, xml.parsers.expat.ExpatError) as err:
            raise Unreachable(
                f"cobbler: {self.shown_url} did not answer like cobblerd ({type(err).__name__})"
            ) from None

    def begin(self) -> None:
        try:
            self.token = str(self._call("login", "login", self.username, self.password))
        except CallFailed:
            raise BackendError(
                f"cobbler: login to {self.shown_url} as {self.username!r} failed (check user and password)"
            ) from None

    def ping(self) -> None:
        self._call("ping", "ping")
        self.begin()

    def names(self, kind: str) -> list[str]:
        return [str(n) for n in self._call(f"list {kind}s", "get_item_names", kind)]

    def find(self, kind: str, criteria: dict[str, str]) -> list[str]:
        step = (
            _shown(["cobbler", kind, "find", *(f"--{k}={v}" for k, v in criteria.items())]) + " (via XML-RPC)"
        )
        return [str(n) for n in self._call(step, "find_items", kind, dict(criteria), "name", False)]

    def edit(self, kind: str, name: str, action: str, attrs: dict[str, Any], node: str = "") -> None:
        if not self.token:
            self.begin()
        step = _shown(["cobbler", *_edit_args(kind, action, name, attrs)]) + " (via XML-RPC)"
        payload: dict[str, Any] = {"name": name, **attrs}
        if action == "remove":
            payload["recursive"] = False  # never: it would delete the systems too
        self._call(step, "xapi_object_edit", kind, name, action, payload, self.token, node=node)

    def kernel_options(self, tokens: Sequence[str]) -> Any:
        # Each argument as a key with an empty value: Cobbler renders such a key verbatim, so quotes, spaces
        # and argument order survive exactly.
        return {token: "" for token in tokens}
