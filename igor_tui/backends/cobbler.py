"""Cobbler boot backend: a reservation's nodes netboot its own Cobbler distro+profile, or a named profile.

Two ways to talk to Cobbler, chosen by the constructor: the `cobbler` CLI (the default, as classic igor did;
needs no credentials but costs ~300 ms of Python start-up per call) or cobblerd's XML-RPC API at a
configured URL (~1 ms per call, and the only way to hand Cobbler kernel arguments whose quoted values contain
spaces without Cobbler rewriting them). Both make the same object edits (`xapi_object_edit`, which the CLI
itself calls), so they behave alike apart from that kernel-argument caveat.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BackendError
from .base import BootRecord, BootSpec

if TYPE_CHECKING:
    import xmlrpc.client

PREFIX = "igor-"  # Cobbler objects and link directories igor creates are named igor-<key>
KERNEL_NAME = "vmlinuz"  # matches Cobbler's kernel filename pattern (content copies are named by sha256)
INITRD_NAME = "initrd.img"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # also no fnmatch wildcards (find_items globs)
_MAX_SHOWN = 300  # a command shown in an error is cut here (kernel args can be long)


class _CallFailed(BackendError):
    """One Cobbler call failed; `detail` is Cobbler's own one-line reason, for callers that inspect it."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class _Unreachable(BackendError):
    """cobblerd did not answer at all; every further call would fail the same way."""


def split_kernel_args(args: str) -> list[str]:
    """Split a kernel command line the way Linux does: on whitespace outside double quotes, quotes kept.

    Control characters are refused: a newline would end Cobbler's `append` line and inject the rest as
    pxelinux directives."""
    bad = sorted({c for c in args if ord(c) < 32 or ord(c) == 127})
    if bad:
        raise BackendError(f"cobbler: kernel arguments contain control characters {bad!r}; refused")
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    for char in args:
        if char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


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


class _Transport(Protocol):
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


class _Cli:
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
            raise _Unreachable(f"cobbler: command not found: {self.command}") from None
        except PermissionError:
            raise _Unreachable(f"cobbler: cannot execute {self.command} (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise _Unreachable(
                f"{where}{_shown(['cobbler', *args])}: timed out after {self.timeout:g}s"
            ) from None
        if proc.returncode == 0:
            return proc.stdout
        unreachable = _cli_unreachable(proc.stdout + proc.stderr)
        if unreachable:
            raise _Unreachable(f"cobbler: cannot reach cobblerd ({unreachable})")
        detail = _cli_detail(proc.stdout, proc.stderr) or "no output"
        raise _CallFailed(
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


class _XmlRpc:
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
            raise _CallFailed(f"{where}{step}: {detail}", detail) from None
        except xmlrpc.client.ProtocolError as err:
            raise _Unreachable(
                f"cobbler: cannot reach cobblerd at {self.shown_url} (HTTP {err.errcode} {err.errmsg})"
            ) from None
        except TimeoutError:
            raise _Unreachable(
                f"cobbler: cannot reach cobblerd at {self.shown_url} (no answer within {self.timeout:g}s)"
            ) from None
        except OSError as err:
            reason = err.strerror or str(err) or type(err).__name__
            raise _Unreachable(f"cobbler: cannot reach cobblerd at {self.shown_url} ({reason})") from None
        except (xmlrpc.client.ResponseError, http.client.HTTPException, xml.parsers.expat.ExpatError) as err:
            raise _Unreachable(
                f"cobbler: {self.shown_url} did not answer like cobblerd ({type(err).__name__})"
            ) from None

    def begin(self) -> None:
        try:
            self.token = str(self._call("login", "login", self.username, self.password))
        except _CallFailed:
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


class CobblerBoot:
    """Boots reservations through Cobbler; see the module docstring for CLI versus XML-RPC.

    `default_profile` is where nodes go back when a reservation ends (igor's `cobblerdefaultprofile`).
    With `url` empty, the `command` CLI is used; otherwise XML-RPC at `url` (e.g.
    http://cobbler.example/cobbler_api) with `username`/`password`. `concurrency` bounds the per-node calls
    in flight. Cobbler system names are assumed to equal node names, as in classic igor.
    """

    def __init__(
        self,
        default_profile: str,
        *,
        command: str = "cobbler",
        timeout: float = 60.0,
        url: str = "",
        username: str = "cobbler",
        password: str = "",
        concurrency: int = 8,
    ) -> None:
        if not default_profile:
            raise ValueError("CobblerBoot needs a default profile")
        self.default_profile = default_profile
        self.concurrency = concurrency
        self._api: _Transport = _XmlRpc(url, username, password, timeout) if url else _Cli(command, timeout)

    # -------------------------------------------------------------------------------- queries

    def profiles(self) -> list[str]:
        """Names of Cobbler's profiles, to validate `igor sub -profile X` (one call; never cached)."""
        return self._api.names("profile")

    def ping(self) -> None:
        """Raise BackendError unless cobblerd answers (and, over XML-RPC, accepts the credentials)."""
        self._api.ping()

    def record_for(self, spec: BootSpec) -> BootRecord:
        """The record `install(spec)` returns, computed without calling Cobbler.

        Lets the caller clean up after an install that never returned (a crash, a kill): `uninstall` of this
        record removes whatever part of it exists."""
        _check_name("reservation key", spec.key)
        nodes = [n.name for n in spec.nodes]
        if spec.profile:
            return {
                "key": spec.key,
                "profile": spec.profile,
                "created_profile": False,
                "distro": "",
                "nodes": nodes,
                "links": [],
            }
        directory = os.path.join(os.path.dirname(spec.kernel_path), PREFIX + spec.key)
        return {
            "key": spec.key,
            "profile": PREFIX + spec.key,
            "created_profile": True,
            "distro": PREFIX + spec.key,
            "nodes": nodes,
            "links": [os.path.join(directory, KERNEL_NAME), os.path.join(directory, INITRD_NAME)],
        }

    # -------------------------------------------------------------------------------- install

    def install(self, spec: BootSpec) -> BootRecord:
        """Point every node's Cobbler system at the reservation's profile, netboot on; all or nothing."""
        for node in spec.nodes:
            _check_name("node", node.name)
        record = self.record_for(spec)
        if not spec.profile and not (spec.kernel_path and spec.initrd_path):
            raise BackendError(
                f"cobbler: reservation {spec.label} has neither a profile nor a kernel and initrd"
            )
        tokens = split_kernel_args(spec.kernel_args)
        kernel_options = self._api.kernel_options(tokens) if not spec.profile else None
        self._api.begin()
        profile = str(record["profile"])
        if spec.profile and profile not in self._api.names("profile"):
            raise BackendError(f"cobbler: profile {profile} does not exist (reservation {spec.label})")
        switched: list[str] = []
        new_links = False
        stage = "links"
        try:
            if not spec.profile:
                new_links = not os.path.exists(record["links"][0])
                _make_links(spec.kernel_path, spec.initrd_path, record["links"])
                stage = "distro"
                self._add_or_edit(
                    "distro",
                    profile,
                    {
                        "kernel": record["links"][0],
                        "initrd": record["links"][1],
                        "kernel_options": kernel_options,
                    },
                )
                stage = "profile"
                self._add_or_edit("profile", profile, {"distro": profile})
            stage = "systems"
            failures = self._each(
                [n.name for n in spec.nodes],
                lambda node: self._api.edit(
                    "system", node, "edit", {"profile": profile, "netboot_enabled": True}, node=node
                ),
                done=switched,
            )
            if failures:
                raise _failure_summary(f"cobbler: install of {spec.label} failed", failures)
        except _Unreachable as err:
            # Nothing can be undone in Cobbler now. Links this call made go too, unless a distro may already
            # use them: Cobbler silently drops a distro whose kernel is missing when it restarts, together
            # with its profile and every system on that profile.
            if new_links and stage == "distro":
                _remove_links(record["links"])
            raise _Unreachable(
                f"{err.message}; not rolled back (uninstall the record once cobblerd is back)"
            ) from None
        except BackendError as err:
            problems = self._rollback(record, switched)
            note = "; rolled back" if not problems else "; rollback incomplete: " + "; ".join(problems)
            raise BackendError(f"{err.message}{note}") from None
        return record

    def _add_or_edit(self, kind: str, name: str, attrs: dict[str, Any]) -> None:
        """Idempotent create: an object left by an earlier install of the same key is updated in place."""
        try:
            self._api.edit(kind, name, "add", attrs)
        except _CallFailed as err:
            if "unwise to overwrite" not in err.detail:
                raise
            self._api.edit(kind, name, "edit", attrs)

    def _rollback(self, record: BootRecord, switched: Sequence[str]) -> list[str]:
        """Undo a failed install: every system on our own profile, or just the ones this call switched to a
        site profile. Returns what could not be undone."""
        if record["created_profile"]:
            return self._teardown(record, only=None)
        return self._teardown(record, only=set(switched))

    # -------------------------------------------------------------------------------- uninstall

    def uninstall(self, record: BootRecord) -> None:
        """Revert nodes still on the record's profile, then remove profile, distro and links (if created).

        A node already moved to another profile (the next reservation's) is left alone; objects that are
        already gone are fine."""
        profile = str(record.get("profile", ""))
        if not profile:
            return
        self._api.begin()
        created = bool(record.get("created_profile"))
        problems = self._teardown(record, only=None if created else set(record.get("nodes", [])))
        if problems:
            raise BackendError(
                f"cobbler: uninstall of {record.get('key', '?')} failed: " + "; ".join(problems)
            )

    def _teardown(self, record: BootRecord, only: set[str] | None) -> list[str]:
        """Revert systems on the record's profile (all of them, or those in `only`), then remove what the
        record created, in the order Cobbler accepts. Returns the problems met."""
        profile = str(record["profile"])
        problems: list[str] = []
        try:
            on_profile = self._api.find("system", {"profile": profile})
        except BackendError as err:
            return [err.message]
        targets = [n for n in on_profile if only is None or n in only]
        if profile != self.default_profile:
            failures = self._each(
                targets,
                lambda node: self._api.edit(
                    "system", node, "edit", {"profile": self.default_profile}, node=node
                ),
            )
            problems.extend(f.message for f in failures.values())
        if not record.get("created_profile"):
            return problems
        if problems:
            return [*problems, f"profile {profile} kept: systems still use it"]
        for kind, name in (("profile", profile), ("distro", str(record.get("distro", "")))):
            if not name:
                continue
            try:
                self._api.edit(kind, name, "remove", {})
            except _CallFailed as err:
                if f"unknown {kind} name" not in err.detail:
                    return [*problems, err.message]
            except BackendError as err:
                return [*problems, err.message]
        problems.extend(_remove_links(record.get("links", [])))
        return problems

    # -------------------------------------------------------------------------------- helpers

    def _each(
        self, nodes: Sequence[str], call: Callable[[str], None], done: list[str] | None = None
    ) -> dict[str, BackendError]:
        """Run `call` for every node, at most `concurrency` at a time; failures by node, successes in `done`.

        Once cobblerd is unreachable, the remaining nodes are not tried (each would wait out a timeout)."""
        failures: dict[str, BackendError] = {}
        lock = threading.Lock()
        gone = threading.Event()

        def one(node: str) -> None:
            if gone.is_set():
                return
            try:
                call(node)
            except BackendError as err:
                if isinstance(err, _Unreachable):
                    gone.set()
                with lock:
                    failures[node] = err
                return
            if done is not None:
                with lock:
                    done.append(node)

        workers = self.concurrency if self.concurrency > 0 else max(1, len(nodes))
        if workers == 1 or len(nodes) <= 1:
            for node in nodes:
                one(node)
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(nodes))) as pool:
                list(pool.map(one, nodes))
        return failures


def _failure_summary(prefix: str, failures: dict[str, BackendError]) -> BackendError:
    """One error for many nodes: an unreachable daemon is said once, otherwise each node's reason."""
    for err in failures.values():
        if isinstance(err, _Unreachable):
            return _Unreachable(err.message)
    ordered = sorted(failures.items())
    shown = "; ".join(err.message for _, err in ordered[:3])  # each starts with its node's name
    more = f"; and {len(ordered) - 3} more" if len(ordered) > 3 else ""
    count = f" {len(ordered)} nodes:" if len(ordered) > 1 else ""
    return BackendError(f"{prefix} on{count} {shown}{more}")


def _check_name(what: str, name: str) -> None:
    """Names end up in Cobbler object names, file paths and fnmatch criteria: keep them plain."""
    if not _SAFE_NAME.match(name):
        raise BackendError(f"cobbler: {what} {name!r} is not a safe Cobbler name (letters, digits, . _ -)")


def _make_links(kernel: str, initrd: str, links: Sequence[str]) -> None:
    """Give igor's sha256-named copies the names Cobbler insists on: hard links, or copies across devices.

    Replaces existing ones atomically, so a re-install with the same key is fine."""
    os.makedirs(os.path.dirname(links[0]), mode=0o755, exist_ok=True)
    for source, target in ((kernel, links[0]), (initrd, links[1])):
        tmp = f"{target}.{os.getpid()}.tmp"
        try:
            try:
                os.link(source, tmp)
            except FileExistsError:
                os.unlink(tmp)
                os.link(source, tmp)
            except OSError as err:
                if isinstance(err, FileNotFoundError) and not os.path.exists(source):
                    raise
                shutil.copyfile(source, tmp)
                os.chmod(tmp, 0o644)
            if os.path.exists(target) and os.path.samefile(tmp, target):
                os.unlink(tmp)  # rename() of two links to one inode is a no-op that would leave tmp behind
            else:
                os.replace(tmp, target)
        except FileNotFoundError:
            raise BackendError(f"cobbler: {source}: no such file (needed for {target})") from None
        except OSError as err:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BackendError(f"cobbler: cannot link {source} to {target}: {err.strerror or err}") from None


def _remove_links(links: Iterable[Any]) -> list[str]:
    """Delete the named links (and their igor-<key> directory once empty); missing ones are fine.

    Only paths of the shape install creates are touched, whatever a damaged record says."""
    problems: list[str] = []
    directories: set[str] = set()
    for link in links:
        path = str(link)
        directory = os.path.dirname(path)
        if os.path.basename(path) not in (KERNEL_NAME, INITRD_NAME) or not os.path.basename(
            directory
        ).startswith(PREFIX):
            problems.append(f"refused to remove {path}: not a link igor creates")
            continue
        directories.add(directory)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            problems.append(f"cannot remove {path}: {err.strerror or err}")
    for directory in directories:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # not empty (e.g. a stray temp file): harmless, and not ours to judge
    return problems
