"""`igor doctor`'s checks of what the config points at: node addresses, power tools, Cobbler, the switch.

doctor.py runs every check and owns those of files, the store, the tick and the deployment; these ask the
outside world (DNS, PATH, Cobbler's API, the switch's eAPI) whether the config's promises hold, reading
only. Each is a step of its own, so one that raises is reported under its name and the others still run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import IgorError

if TYPE_CHECKING:
    from ..config import Config
    from .deploy import Root
    from .doctor_security import Report, Status


class PeerChecks:
    """The checks of one installation's peers; `root` maps the config's paths, as with `igor setup --root`."""

    def __init__(self, report: Report, root: Root, env: Mapping[str, str]) -> None:
        self.report = report
        self.root = root
        self.env = env

    def add(self, name: str, status: Status, message: str, fix: str = "") -> None:
        self.report(name, status, message, fix)

    def nodes(self, config: Config) -> None:
        from ..backends.factory import resolver

        addresses = resolver(config)(config.naming.all())
        missing = [a.name for a in addresses if not a.ip and not a.mac]
        if not missing:
            self.add("nodes", "ok", f"every node of {config.naming.describe()} has an address")
            return
        nodes = config.naming.compress(missing)
        status: Status = "warn" if config.usecobbler else "fail"
        why = "only the liveness probe needs it" if config.usecobbler else "igor cannot write their PXE files"
        self.add(
            "nodes",
            status,
            f"no address for {nodes}: not in hosts and not in DNS ({why})",
            f'add them to "hosts" in {config.path} '
            '({"ip": ..., "mac": ...}) or to DNS (dnsserver, dnsdomain)',
        )

    def power(self, config: Config) -> None:
        from ..backends.power import template_argv

        templates = {
            k: t
            for k, t in (
                ("poweroncommand", config.poweroncommand),
                ("poweroffcommand", config.poweroffcommand),
            )
            if t
        }
        if config.power == "ssh":
            missing = [
                f"{key} {value}"
                for key, value in (
                    ("powersshkey", config.powersshkey),
                    ("powersshknownhosts", config.powersshknownhosts),
                )
                if value and not os.path.isfile(self.root(value))
            ]
            if missing:
                self.add("power", "fail", f"missing: {', '.join(missing)}", "create them or fix the paths")
            else:
                self.add(
                    "power", "ok", f"power commands run on {config.powersshhost} over SSH (not contacted)"
                )
            return
        if not templates:
            self.add("power", "ok", "no power commands configured (igor power and autoreboot are off)")
            return
        problems: list[str] = []
        for key, template in templates.items():
            program = template_argv(template, "node")[0]
            if not self._executable(program):
                problems.append(f"{key}: {program} is not an executable file")
        if problems:
            self.add("power", "fail", "; ".join(problems), "install the power tool or fix the templates")
        else:
            self.add("power", "ok", "power commands are executable")

    def _executable(self, program: str) -> bool:
        if os.path.isabs(program):
            real = self.root(program)
            return os.path.isfile(real) and os.access(real, os.X_OK)
        path = os.pathsep.join(self.root(d) for d in self.env.get("PATH", os.defpath).split(os.pathsep) if d)
        return shutil.which(program, path=path) is not None

    def cobbler(self, config: Config) -> None:
        if not config.usecobbler:
            return
        from ..backends.cobbler import CobblerBoot
        from ..backends.factory import boot_backend

        boot = boot_backend(config)
        assert isinstance(boot, CobblerBoot)
        try:
            profiles = boot.profiles()
        except IgorError as err:
            self.add(
                "cobbler",
                "fail",
                f"Cobbler does not answer: {err}",
                "start cobblerd (systemctl start cobblerd); check cobblerurl, cobbleruser, cobblerpassword",
            )
            return
        if config.cobblerdefaultprofile not in profiles:
            self.add(
                "cobbler",
                "fail",
                f"Cobbler has no profile {config.cobblerdefaultprofile!r} "
                "(cobblerdefaultprofile), where nodes go when a reservation ends",
                "create it in Cobbler, or set cobblerdefaultprofile to one of 'cobbler profile list'",
            )
            return
        self.add("cobbler", "ok", f"Cobbler answers; default profile {config.cobblerdefaultprofile} exists")

    def switch(self, config: Config) -> None:
        if config.network != "arista":
            return
        missing = [n for n in config.naming.all() if n not in config.node_map]
        if missing:
            self.add(
                "switch",
                "fail",
                f"node_map has no port for {config.naming.compress(missing)}",
                "add every node to node_map",
            )
            return
        from ..backends.factory import switch_backend

        switch = switch_backend(config)
        assert switch is not None
        try:
            switch.port_vlans(sorted(set(config.node_map.values())))
        except IgorError as err:
            self.add(
                "switch",
                "fail",
                f"the switch does not answer as expected: {err}",
                "check network_url, networkuser, networkpassword and node_map",
            )
            return
        self.add("switch", "ok", f"the switch answers and knows all {len(config.node_map)} ports of node_map")
