"""The Cobbler boot backend, against a real Cobbler 3.3 cobblerd on 127.0.0.1 over both CLI and XML-RPC."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cobbler_server import CREDENTIALS, CobblerServer

from igor_tui.backends.base import BootSpec, NodeAddress
from igor_tui.backends.cobbler import CobblerBoot, split_kernel_args
from igor_tui.content import ContentStore
from igor_tui.errors import BackendError

MODES = ["cli", "xmlrpc"]
_serial = itertools.count(1)

NodeFactory = Callable[[int], tuple[NodeAddress, ...]]


# ------------------------------------------------------------------------------------------- fixtures


def make_boot(server: CobblerServer, mode: str) -> CobblerBoot:
    if mode == "cli":
        return CobblerBoot(server.default_profile, command=server.cobbler, timeout=60)
    user, password = CREDENTIALS
    return CobblerBoot(server.default_profile, url=server.url, username=user, password=password, timeout=10)


@pytest.fixture(params=MODES)
def boot(request: pytest.FixtureRequest, cobbler_server: CobblerServer) -> CobblerBoot:
    return make_boot(cobbler_server, str(request.param))


@pytest.fixture
def make_nodes(cobbler_server: CobblerServer) -> Iterator[NodeFactory]:
    """Fresh Cobbler systems on the default profile, named like nodes; removed after the test."""
    made: list[str] = []

    def factory(count: int) -> tuple[NodeAddress, ...]:
        nodes = []
        for _ in range(count):
            n = next(_serial)
            name = f"kn{n}"
            mac = f"52:54:00:00:{n // 256:02x}:{n % 256:02x}"
            cobbler_server.add_system(name, mac)
            made.append(name)
            nodes.append(NodeAddress(name=name, ip=f"127.0.1.{n % 250 + 1}", mac=mac))
        return tuple(nodes)

    yield factory
    for name in made:
        cobbler_server.remove_system(name)


def kernel_spec(tmp_path: Path, key: str, nodes: tuple[NodeAddress, ...], args: str = "") -> BootSpec:
    """A spec like the service builds: kernel and initrd are sha256-named copies in igor's content store."""
    store = ContentStore(str(tmp_path / "content"))
    src = tmp_path / "src" / key
    src.mkdir(parents=True, exist_ok=True)
    (src / "bzImage").write_bytes(f"kernel for {key}".encode())
    (src / "initramfs").write_bytes(f"initrd for {key}".encode())
    kernel = store.path(store.add(str(src / "bzImage"), "kernel"))
    initrd = store.path(store.add(str(src / "initramfs"), "initrd"))
    return BootSpec(
        key=key, label=f"res-{key}", nodes=nodes, kernel_path=kernel, initrd_path=initrd, kernel_args=args
    )


def fresh_key() -> str:
    return f"r{next(_serial)}"


def profile_of(server: CobblerServer, node: str) -> str:
    return str(server.system(node)["profile"])


def append_line(server: CobblerServer, node: NodeAddress) -> str:
    """The `append` line of the node's pxelinux file, as Cobbler wrote it."""
    text = server.pxe_file(node.mac).read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(("append", "localboot"))]
    assert lines, text
    return lines[0]


def assert_gone(server: CobblerServer, key: str) -> None:
    assert f"igor-{key}" not in server.names("profile")
    assert f"igor-{key}" not in server.names("distro")
    assert not (server.tftp_root / "images" / f"igor-{key}").exists()


# ------------------------------------------------------------------------------------------- real server


@pytest.mark.real
def test_install_boots_nodes_with_their_args_and_uninstall_reverts_everything(
    boot: CobblerBoot, cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    nodes = make_nodes(2)
    key = fresh_key()
    spec = kernel_spec(tmp_path, key, nodes, "console=ttyS0,115200 quiet")

    record = boot.install(spec)

    link_dir = Path(spec.kernel_path).parent / f"igor-{key}"
    assert record == {
        "key": key,
        "profile": f"igor-{key}",
        "created_profile": True,
        "distro": f"igor-{key}",
        "nodes": [n.name for n in nodes],
        "links": [str(link_dir / "vmlinuz"), str(link_dir / "initrd.img")],
    }
    assert os.path.samefile(link_dir / "vmlinuz", spec.kernel_path)
    for node in nodes:
        report = cobbler_server.run("system", "report", f"--name={node.name}").stdout
        assert re.search(rf"^Profile\s+: igor-{key}$", report, re.M), report
        assert re.search(r"^Netboot Enabled\s+: True$", report, re.M), report
        pxe = cobbler_server.pxe_file(node.mac).read_text()
        assert f"kernel /images/igor-{key}/vmlinuz" in pxe
        assert append_line(cobbler_server, node).endswith("console=ttyS0,115200 quiet"), pxe

    boot.uninstall(record)

    for node in nodes:
        assert profile_of(cobbler_server, node.name) == cobbler_server.default_profile
        assert (
            f"/images/{cobbler_server.default_profile}/vmlinuz"
            in cobbler_server.pxe_file(node.mac).read_text()
        )
    assert_gone(cobbler_server, key)
    assert not link_dir.exists()
    assert os.path.exists(spec.kernel_path) and os.path.exists(spec.initrd_path)  # igor's copies are kept
    boot.uninstall(record)  # idempotent: everything already gone is fine


@pytest.mark.real
def test_back_to_back_uninstall_of_the_first_leaves_the_second_intact(
    boot: CobblerBoot, cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    nodes = make_nodes(2)
    key_a, key_b = fresh_key(), fresh_key()
    record_a = boot.install(kernel_spec(tmp_path, key_a, nodes, "from=a"))
    record_b = boot.install(kernel_spec(tmp_path, key_b, nodes, "from=b"))

    boot.uninstall(record_a)

    for node in nodes:
        assert profile_of(cobbler_server, node.name) == f"igor-{key_b}"
        assert cobbler_server.system(node.name)["netboot_enabled"] is True
        assert append_line(cobbler_server, node).endswith("from=b")
    assert_gone(cobbler_server, key_a)
    assert f"igor-{key_b}" in cobbler_server.names("profile")
    boot.uninstall(record_b)
    assert_gone(cobbler_server, key_b)


@pytest.mark.real
def test_missing_system_fails_naming_the_node_and_leaves_nothing_behind(
    boot: CobblerBoot, cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    (good,) = make_nodes(1)
    ghost = NodeAddress(name=f"kn{next(_serial)}", mac="52:54:00:ff:ff:01")  # no Cobbler system
    key = fresh_key()
    spec = kernel_spec(tmp_path, key, (good, ghost), "quiet")

    with pytest.raises(BackendError) as caught:
        boot.install(spec)

    message = str(caught.value)
    assert f"{ghost.name}: cobbler system edit" in message
    assert f"unknown system name {ghost.name}" in message
    assert "rolled back" in message
    assert profile_of(cobbler_server, good.name) == cobbler_server.default_profile
    assert_gone(cobbler_server, key)
    assert not (Path(spec.kernel_path).parent / f"igor-{key}").exists()


@pytest.mark.real
def test_profile_spec_uses_the_named_profile_and_validates_it(
    boot: CobblerBoot, cobbler_server: CobblerServer, make_nodes: NodeFactory
) -> None:
    site = f"site-rescue-{next(_serial)}"
    cobbler_server.run("profile", "add", f"--name={site}", f"--distro={cobbler_server.default_profile}")
    nodes = make_nodes(2)
    key = fresh_key()
    assert site in boot.profiles()

    record = boot.install(BootSpec(key=key, label="rescue", nodes=nodes, profile=site))

    assert record == {
        "key": key,
        "profile": site,
        "created_profile": False,
        "distro": "",
        "nodes": [n.name for n in nodes],
        "links": [],
    }
    assert all(profile_of(cobbler_server, n.name) == site for n in nodes)
    boot.uninstall(record)
    assert all(profile_of(cobbler_server, n.name) == cobbler_server.default_profile for n in nodes)
    assert site in cobbler_server.names("profile")  # the site's profile is never removed

    with pytest.raises(BackendError, match=r"profile no-such-profile does not exist"):
        boot.install(BootSpec(key=fresh_key(), label="x", nodes=nodes, profile="no-such-profile"))
    assert all(profile_of(cobbler_server, n.name) == cobbler_server.default_profile for n in nodes)
    cobbler_server.run("profile", "remove", f"--name={site}")


@pytest.mark.real
def test_reinstall_of_the_same_key_is_idempotent(
    boot: CobblerBoot, cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    nodes = make_nodes(2)
    key = fresh_key()
    spec = kernel_spec(tmp_path, key, nodes, "first")
    first = boot.install(spec)

    again = boot.install(spec)
    changed = boot.install(dataclasses.replace(spec, kernel_args="second"))

    assert first == again == changed
    assert cobbler_server.names("profile").count(f"igor-{key}") == 1
    for node in nodes:
        assert append_line(cobbler_server, node).endswith("second")
    boot.uninstall(changed)
    assert_gone(cobbler_server, key)


@pytest.mark.real
def test_kernel_args_with_spaces_and_quotes_survive_over_xmlrpc(
    cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    boot = make_boot(cobbler_server, "xmlrpc")
    (node,) = make_nodes(1)
    args = 'console=tty0 root="/dev/disk/by-label/my root" quiet x=\'y\' console=ttyS0 empty= "a b=c d" a=b=c'
    record = boot.install(kernel_spec(tmp_path, fresh_key(), (node,), args))

    line = append_line(cobbler_server, node)

    assert line.endswith(" " + args), line  # same tokens, same order, same quotes
    boot.uninstall(record)


@pytest.mark.real
def test_cli_passes_quotes_intact_and_refuses_what_it_would_rewrite(
    cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    boot = make_boot(cobbler_server, "cli")
    (node,) = make_nodes(1)
    args = "console=ttyS0,115200n8 foo=\"bar\" x='y' a=b=c  quiet"
    record = boot.install(kernel_spec(tmp_path, fresh_key(), (node,), args))
    assert append_line(cobbler_server, node).endswith(" " + " ".join(split_kernel_args(args)))
    boot.uninstall(record)

    key = fresh_key()
    with pytest.raises(BackendError, match=r'would rewrite kernel argument root="/dev/my root"'):
        boot.install(kernel_spec(tmp_path, key, (node,), 'root="/dev/my root" quiet'))
    assert_gone(cobbler_server, key)
    assert profile_of(cobbler_server, node.name) == cobbler_server.default_profile


@pytest.mark.real
@pytest.mark.parametrize("mode", MODES)
def test_cobblerd_down_gives_one_clear_error(
    mode: str, cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    boot = make_boot(cobbler_server, mode)
    nodes = make_nodes(2)
    spec = kernel_spec(tmp_path, fresh_key(), nodes, "quiet")
    cobbler_server.stop_daemon()
    try:
        for call in (boot.ping, boot.profiles, lambda: boot.install(spec)):
            with pytest.raises(BackendError) as caught:
                call()
            message = str(caught.value)
            assert message.startswith("cobbler: cannot reach cobblerd"), message
            assert "Connection refused" in message, message
            assert "Traceback" not in message and "\n" not in message
        if mode == "cli":  # the CLI got as far as the distro; XML-RPC's login failed before anything
            assert "not rolled back (uninstall the record once cobblerd is back)" in message
        assert not (Path(spec.kernel_path).parent / f"igor-{spec.key}").exists()  # its new links went
    finally:
        cobbler_server.start_daemon()
    boot.ping()
    assert all(profile_of(cobbler_server, n.name) == cobbler_server.default_profile for n in nodes)
    boot.uninstall(boot.record_for(spec))  # the planned record cleans up whatever a failed install left


@pytest.mark.real
def test_uninstall_of_a_planned_record_cleans_up_an_interrupted_install(
    cobbler_server: CobblerServer, make_nodes: NodeFactory, tmp_path: Path
) -> None:
    """A tick killed mid-install has no record; record_for() lets the next run remove what exists."""
    boot = make_boot(cobbler_server, "xmlrpc")  # transport-independent logic: the fast transport will do
    nodes = make_nodes(2)
    key = fresh_key()
    spec = kernel_spec(tmp_path, key, nodes, "quiet")
    boot.install(spec)  # pretend the returned record was lost

    boot.uninstall(boot.record_for(spec))

    assert_gone(cobbler_server, key)
    assert all(profile_of(cobbler_server, n.name) == cobbler_server.default_profile for n in nodes)


@pytest.mark.real
def test_xmlrpc_bad_password_is_reported_without_the_password(
    cobbler_server: CobblerServer,
) -> None:
    boot = CobblerBoot(cobbler_server.default_profile, url=cobbler_server.url, password="hunter2-secret")
    with pytest.raises(BackendError) as caught:
        boot.ping()
    assert "login to" in str(caught.value) and "failed" in str(caught.value)
    assert "hunter2" not in str(caught.value)


# ------------------------------------------------------------------------------------------- no server


def test_split_kernel_args_follows_linux_quoting() -> None:
    assert split_kernel_args("") == []
    assert split_kernel_args("  a  b=c ") == ["a", "b=c"]
    assert split_kernel_args("root=\"/my disk\" x='y z'") == ['root="/my disk"', "x='y", "z'"]
    assert split_kernel_args('"a b=c d" e') == ['"a b=c d"', "e"]


@pytest.mark.parametrize("args", ["quiet\nkernel /evil", "a\tb", "x=\x00"])
def test_control_characters_in_kernel_args_are_refused(args: str, tmp_path: Path) -> None:
    boot = CobblerBoot("default", command=str(tmp_path / "never-run"))
    spec = kernel_spec(tmp_path, "r1", (NodeAddress("kn1"),), args)
    with pytest.raises(BackendError, match="control characters"):
        boot.install(spec)
    assert not (Path(spec.kernel_path).parent / "igor-r1").exists()


@pytest.mark.parametrize(("key", "node"), [("../x", "kn1"), ("r1", "kn*"), ("r1", "--help"), ("", "kn1")])
def test_unsafe_names_are_refused_before_anything_happens(key: str, node: str, tmp_path: Path) -> None:
    boot = CobblerBoot("default", command=str(tmp_path / "never-run"))
    with pytest.raises(BackendError, match="not a safe Cobbler name"):
        boot.install(BootSpec(key=key, label="x", nodes=(NodeAddress(node),), profile="p"))


def test_missing_cobbler_command_is_a_clear_error(tmp_path: Path) -> None:
    boot = CobblerBoot("default", command=str(tmp_path / "no-cobbler-here"))
    with pytest.raises(BackendError, match=r"^cobbler: command not found: .*no-cobbler-here$"):
        boot.ping()


@pytest.mark.real
def test_uninstall_never_removes_files_igor_did_not_create(
    cobbler_server: CobblerServer, tmp_path: Path
) -> None:
    """A damaged record naming someone else's file must not make igor delete it."""
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    boot = make_boot(cobbler_server, "xmlrpc")
    record = {
        "key": "r0",
        "profile": "igor-r0-never-created",
        "created_profile": True,
        "distro": "igor-r0-never-created",
        "nodes": [],
        "links": [str(precious)],
    }
    with pytest.raises(BackendError, match="refused to remove"):
        boot.uninstall(record)
    assert precious.read_text() == "keep me"
