"""Builds the configured backends from igor.conf, importing each implementation only when it is used."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..typenames import TYPE_CHECKING
from .base import Backends, BootBackend, Liveness, NodeAddress, PowerBackend, SwitchBackend

if TYPE_CHECKING:
    from ..config import Config


def build_backends(config: Config) -> Backends:
    """Every backend the config asks for; each implementation is imported only here, only if used."""
    return Backends(
        boot=boot_backend(config),
        power=power_backend(config),
        switch=switch_backend(config),
        liveness=liveness_backend(config),
    )


def boot_backend(config: Config) -> BootBackend:
    if config.usecobbler:
        from .cobbler import CobblerBoot

        return CobblerBoot(
            config.cobblerdefaultprofile,
            command=config.cobblercommand,
            timeout=config.cobblertimeout,
            url=config.cobblerurl,
            username=config.cobbleruser,
            password=config.cobblerpassword,
            concurrency=config.concurrencylimit or 8,
        )
    from .pxe import PxeBoot

    return PxeBoot(config.tftproot, uefi_nodes=config.bootmode)


def power_backend(config: Config) -> PowerBackend | None:
    """None when power is not configured: `igor power` then says so instead of failing obscurely."""
    if config.power == "ssh":
        from .power import SshPower

        return SshPower(
            config.powersshhost,
            config.poweroncommand,
            config.poweroffcommand,
            port=config.powersshport,
            username=config.powersshuser,
            password=config.powersshpassword,
            key_filename=config.powersshkey,
            known_hosts=config.powersshknownhosts,
            timeout=config.powertimeout,
            concurrency=config.powersshconcurrency,
            retries=config.commandretries,
            cycle_delay=config.powercycledelay,
        )
    if not (config.poweroncommand or config.poweroffcommand):
        return None
    from .power import CommandPower

    return CommandPower(
        config.poweroncommand,
        config.poweroffcommand,
        timeout=config.powertimeout,
        concurrency=config.concurrencylimit,
        retries=config.commandretries,
        cycle_delay=config.powercycledelay,
    )


def switch_backend(config: Config) -> SwitchBackend | None:
    if config.network != "arista":
        return None
    from .arista import AristaSwitch

    return AristaSwitch(
        config.network_url,
        config.networkuser,
        config.networkpassword,
        timeout=config.network_timeout,
        verify_tls=config.network_verify_tls,
        ca_file=config.network_ca_file,
    )


def liveness_backend(config: Config) -> Liveness | None:
    if config.liveness == "none":
        return None
    from .liveness import PingLiveness, TcpLiveness

    seconds = config.livenesstimeout / 1000
    if config.liveness == "ping":
        return PingLiveness(timeout=seconds)
    return TcpLiveness(port=config.livenessport, timeout=seconds)


def resolver(config: Config) -> Callable[[Sequence[str]], list[NodeAddress]]:
    """Node names -> addresses: the hosts map first, then DNS (dnsserver, else the system resolver).

    resolve.py (socket, ipaddress: ~5-10 ms of imports) is loaded at the first lookup: an idle tick,
    which builds its backends but acts on no node, never pays for it."""
    hosts, dnsserver, domain = config.hosts, config.dnsserver, config.dnsdomain

    def resolve(names: Sequence[str]) -> list[NodeAddress]:
        from .resolve import resolve_nodes

        return resolve_nodes(names, hosts=hosts, dnsserver=dnsserver, domain=domain)

    return resolve
