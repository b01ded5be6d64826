"""Cobbler boot backend: a reservation's nodes netboot its own Cobbler distro+profile, or a named profile.

This module is the boot logic: which objects to create, how to roll back a half-done install and how to
tear a reservation down. How each call reaches Cobbler (the `cobbler` CLI or cobblerd's XML-RPC API, chosen
by the constructor) lives in `cobbler_transport`, which explains the trade-off between the two.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import BackendError
from .base import BootRecord, BootSpec
from .cobbler_transport import CallFailed, CliTransport, Transport, Unreachable, XmlRpcTransport

PREFIX = "igor-"  # Cobbler objects and link directories igor creates are named igor-<key>
KERNEL_NAME = "vmlinuz"  # matches Cobbler's kernel filename pattern (content copies are named by sha256)
INITRD_NAME = "initrd.img"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # also no fnmatch wildcards (find_items globs)


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


class CobblerBoot:
    """Boots reservations through Cobbler; see `cobbler_transport` for CLI versus XML-RPC.

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
        self._api: Transport = (
            XmlRpcTransport(url, username, password, timeout) if url else CliTransport(command, timeout)
        )

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
        except Unreachable as err:
            # Nothing can be undone in Cobbler now. Links this call made go too, unless a distro may already
            # use them: Cobbler silently drops a distro whose kernel is missing when it restarts, together
            # with its profile and every system on that profile.
            if new_links and stage == "distro":
                _remove_links(record["links"])
            raise Unreachable(
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
        except CallFailed as err:
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
            except CallFailed as err:
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
                if isinstance(err, Unreachable):
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
        if isinstance(err, Unreachable):
            return Unreachable(err.message)
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
