"""Handlers of the verbs that run without an IgorService: setup writes the config, doctor checks it (and
works without one), help and version need none. Each is called as `handler(ns, config, out, env)`."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from .. import __version__
from ..errors import UsageError
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from typing import IO


def help_(ns: argparse.Namespace, config: str | None, out: IO[str], env: Mapping[str, str]) -> int:
    """`igor help [VERB]`: the usage text, or the verb's own `-h`."""
    from . import usage_text
    from .verbs import VERBS

    if not ns.topic:
        out.write(usage_text())
        return 0
    verb = VERBS.get(ns.topic)
    if verb is None:
        raise UsageError(f"no help for '{ns.topic}': commands are {', '.join(VERBS)}")
    out.write(verb.parser().format_help())
    return 0


def version(ns: argparse.Namespace, config: str | None, out: IO[str], env: Mapping[str, str]) -> int:
    out.write(f'{{"version": "{__version__}"}}\n' if ns.json else f"igor {__version__}\n")
    return 0


def setup(ns: argparse.Namespace, config: str | None, out: IO[str], env: Mapping[str, str]) -> int:
    from ..install.setup import SetupOptions, run_setup

    if config:
        raise UsageError("setup always writes /etc/igor.conf (the file igor-tick reads); drop --config")
    if ns.json:
        raise UsageError("setup prints its plan as text; --json is not available")
    opts = SetupOptions(
        tftproot=ns.tftproot,
        cobbler=ns.cobbler,
        cobbler_profile=ns.cobbler_profile,
        user=ns.user,
        prefix=ns.prefix,
        root=ns.root,
        timer=ns.timer,
        nodes=ns.nodes,
        uefi=ns.uefi,
    )

    def ask() -> bool:
        out.write("Make these changes? [y/N] ")
        out.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return run_setup(opts, yes=ns.yes, ask=ask if sys.stdin.isatty() else None, out=out, env=env)


def doctor(ns: argparse.Namespace, config: str | None, out: IO[str], env: Mapping[str, str]) -> int:
    from ..config import CONFIG_ENV, DEFAULT_CONFIG_PATH
    from ..install.deploy import Root
    from ..install.doctor import Doctor, run_doctor

    root = Root(ns.root)
    # In another root the config is that tree's /etc/igor.conf; $IGOR_CONFIG names a file of this system.
    path = config or (env.get(CONFIG_ENV) if root.is_system else None) or DEFAULT_CONFIG_PATH
    doctor = Doctor(root, path, user=ns.user, prefix=ns.prefix, env=env)
    return run_doctor(doctor, as_json=ns.json, out=out)
