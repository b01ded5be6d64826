"""`igor doctor`'s security checks: the sudo rule's content, where private state lives, secrets on TFTP.

The README's "Security model" says what a safe deployment looks like; these checks say whether this one
is. They only read. A sudo rule that passes `visudo -c` can still hand every user a shell as igor (a
`SETENV` tag, an `ALL` command, a runas of root), so the rule's content is checked line by line against
what contrib/igor.sudoers allows: igor's own programs, run as the service user, nothing else.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from .deploy import lib_dir, render_contrib

if TYPE_CHECKING:
    from ..config import Config
    from .deploy import Root

Status = Literal["ok", "warn", "fail"]
"""A check's outcome. Defined here, not in doctor.py, so the import runs one way: doctor -> these checks."""
Report = Callable[[str, Status, str, str], None]
"""Doctor.add: (check name, status, message, fix)."""
MAX_LISTED = 5
WALK_LIMIT = 100_000
"""Files looked at under the TFTP root before giving up (a root with a distro mirror must not hang doctor)."""
_RULE = re.compile(r"^(?P<who>\S+)\s+(?P<host>\S+)\s*=\s*\((?P<runas>[^)]*)\)\s*(?P<cmds>.*)$")
_TAG = re.compile(r"^(?P<tag>[A-Z_]+):\s*")
_SAFE_DEFAULTS = re.compile(r'^Defaults!\S+\s+(!requiretty|env_keep\s*\+=\s*"?IGOR_CONFIG"?)$')
_PRIVATE_NAMES = re.compile(r"(^igor\.json$|\.lock$|^tick\.|^igor\.conf$|\.tmp$|^\.incoming\.)")


def sudoers_lines(text: str) -> list[str]:
    """The rule's logical lines: comments and blank lines dropped, continuations joined, spaces squeezed."""
    joined = re.sub(r"\\\n", " ", text)
    lines = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith(("#include", "#1", "#2"))):
            continue
        lines.append(" ".join(line.split()))
    return lines


def sudoers_problems(text: str, user: str, prefix: str) -> list[str]:
    """Each way this sudo rule lets a caller do more than run igor's programs as `user`."""
    allowed = {os.path.join(lib_dir(prefix), "bin", name) for name in ("igor", "igor-tui", "igor-tick")}
    problems: list[str] = []
    for line in sudoers_lines(text):
        if line.startswith("Defaults"):
            if not _SAFE_DEFAULTS.match(line):
                problems.append(
                    f"'{line}' changes sudo's defaults (only !requiretty and env_keep IGOR_CONFIG)"
                )
            continue
        match = _RULE.match(line)
        if match is None:
            problems.append(f"'{line}' is not a plain rule igor can check (aliases and includes are not)")
            continue
        runas = match["runas"].split(":")[0].strip()
        if runas != user or ":" in match["runas"]:
            problems.append(f"'{line}' runs commands as ({match['runas']}), not as {user} alone")
        cmds = match["cmds"]
        while tag := _TAG.match(cmds):
            if tag["tag"] not in ("NOPASSWD", "PASSWD"):
                problems.append(f"'{line}' uses {tag['tag']}: (SETENV lets a caller set PYTHONPATH for igor)")
            cmds = cmds[tag.end() :]
        for cmd in (c.strip() for c in cmds.split(",")):
            if cmd not in allowed:
                problems.append(f"'{line}' allows '{cmd}', which is not one of igor's programs")
    return problems


def check_sudoers(report: Report, path: str, user: str, prefix: str) -> None:
    """Fail on any line that lets a caller run something other than igor's programs as the service user."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return  # root-only (0440): the admin's own run of doctor checks it
    problems = sudoers_problems(text, user, prefix)
    if problems:
        report(
            "sudo-rule",
            "fail",
            f"{path}: " + "; ".join(problems),
            "run igor setup again (it installs contrib/igor.sudoers), or edit it with visudo -f",
        )
        return
    expected = sudoers_lines(render_contrib("igor.sudoers", user=user, prefix=prefix))
    same = sudoers_lines(text) == expected
    why = "it matches contrib/igor.sudoers" if same else "it differs from contrib/igor.sudoers but"
    report("sudo-rule", "ok", f"{path}: {why} runs only igor's programs as {user}", "")


def _inside(path: str, top: str) -> bool:
    path, top = os.path.normpath(path), os.path.normpath(top)
    return path == top or path.startswith(top.rstrip("/") + "/")


def check_store_location(report: Report, root: Root, config: Config) -> None:
    """The store, its locks and the tick's state must not be where the TFTP server serves files from."""
    statedir, tftproot = os.path.realpath(root(config.statedir)), os.path.realpath(root(config.tftproot))
    if _inside(statedir, tftproot):
        report(
            "store-location",
            "fail",
            f"statedir {config.statedir} is inside the TFTP root {config.tftproot}: anyone on the boot "
            "network can fetch the store (every reservation, owner and kernel argument) and its locks",
            f'set "statedir" to a directory outside {config.tftproot} (e.g. /var/lib/igor) and move the '
            "store there with igor stopped",
        )
    else:
        report("store-location", "ok", f"statedir {config.statedir} is outside the TFTP root", "")


def check_tftp_secrets(report: Report, root: Root, config: Config) -> None:
    """Nothing private in the TFTP root: not the config, not a store, lock or temp file, no 0600 file."""
    tftproot = root(config.tftproot)
    config_real = os.path.realpath(config.path) if config.path else ""  # already inside the root
    found: list[str] = []
    seen = 0
    for top, dirs, files in os.walk(tftproot):
        dirs.sort()
        for name in sorted(files):
            seen += 1
            if seen > WALK_LIMIT:
                break
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            private = not st.st_mode & stat.S_IROTH and stat.S_ISREG(st.st_mode)
            if private or _PRIVATE_NAMES.search(name) or os.path.realpath(path) == config_real:
                found.append(f"{path} (mode {stat.S_IMODE(st.st_mode):04o})")
    if found:
        listed = ", ".join(found[:MAX_LISTED]) + (
            f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        )
        report(
            "tftp-secrets",
            "fail",
            f"{len(found)} private file(s) under the TFTP root {tftproot}, which serves them to anyone: "
            + listed,
            "move the config, the store and its locks out of the TFTP root (statedir); remove other "
            "private files from it",
        )
    else:
        report("tftp-secrets", "ok", f"nothing private under the TFTP root {tftproot}", "")
