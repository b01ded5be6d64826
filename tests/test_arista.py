"""The Arista eAPI backend against an eAPI-speaking server on 127.0.0.1: round trips, errors, faults."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from fake_eapi import FakeEapi, RecordedRequest

from igor_tui.backends.arista import AristaSwitch, canonical_port, validate_port
from igor_tui.backends.base import SwitchBackend
from igor_tui.errors import BackendError, ConfigError, ValidationError

PASSWORD = "pa55:w0rd@secret"


@pytest.fixture
def eapi() -> Iterator[FakeEapi]:
    """A started fake switch with ports Ethernet1..Ethernet64 and user admin / PASSWORD."""
    with FakeEapi(password=PASSWORD) as fake:
        yield fake


def switch_for(fake: FakeEapi, *, password: str = PASSWORD, timeout: float = 5.0) -> AristaSwitch:
    return AristaSwitch(fake.url, "admin", password, timeout=timeout)


def raw_run(fake: FakeEapi, cmds: list[str]) -> dict[str, object]:
    """Talk to the fake directly, to pin down its own eAPI behaviour."""
    body = {"jsonrpc": "2.0", "method": "runCmds", "params": {"version": 1, "cmds": cmds}, "id": "t"}
    with requests.Session() as session:
        session.trust_env = False
        reply = session.post(fake.url, json=body, auth=("admin", PASSWORD), timeout=5)
    assert reply.status_code == 200
    doc: dict[str, object] = reply.json()
    return doc


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A throw-away self-signed certificate for 127.0.0.1 (cryptography comes with paramiko)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-eapi")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound then closed, so connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------------------------------- round trips


def test_is_a_switch_backend(eapi: FakeEapi) -> None:
    backend: SwitchBackend = switch_for(eapi)
    assert backend.port_vlans(["Et1"]) == {"Et1": None}


def test_set_vlan_then_read_back_then_clear(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    switch.set_vlan(["Et1", "Et2", "Ethernet3"], 100)
    assert eapi.vlan_of("Ethernet1") == ("dot1qTunnel", 100)
    assert eapi.vlan_of("Ethernet3") == ("dot1qTunnel", 100)
    assert eapi.vlan_of("Ethernet4") == ("access", 1)
    assert switch.port_vlans(["Et1", "Et2", "Ethernet3", "Et4"]) == {
        "Et1": 100,
        "Et2": 100,
        "Ethernet3": 100,
        "Et4": None,
    }
    switch.clear(["Et1", "Et2", "Ethernet3"])
    assert eapi.vlan_of("Ethernet1") == ("access", 1)
    assert switch.port_vlans(["Et1", "Et2", "Ethernet3"]) == {"Et1": None, "Et2": None, "Ethernet3": None}


def test_exact_commands_sent(eapi: FakeEapi) -> None:
    """The classic command sequence (spec §7.2), all ports in one list, one request."""
    switch = switch_for(eapi)
    switch.set_vlan(["Et1", "Et2"], 7)
    switch.clear(["Et1"])
    sent = [r.cmds for r in eapi.run_cmds_requests()]
    assert sent == [
        (
            "enable",
            "configure terminal",
            "interface Et1",
            "switchport mode dot1q-tunnel",
            "switchport access vlan 7",
            "interface Et2",
            "switchport mode dot1q-tunnel",
            "switchport access vlan 7",
        ),
        (
            "enable",
            "configure terminal",
            "interface Et1",
            "no switchport access vlan",
            "switchport mode access",
        ),
    ]
    body = json.loads(eapi.run_cmds_requests()[0].body)
    assert body["method"] == "runCmds"
    assert body["params"]["version"] == 1
    assert body["params"]["format"] == "json"


def test_one_request_for_many_ports(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    ports = [f"Et{i}" for i in range(1, 65)]
    switch.set_vlan(ports, 2000)
    assert len(eapi.run_cmds_requests()) == 1
    assert set(switch.port_vlans(ports).values()) == {2000}
    switch.clear(ports)
    assert len(eapi.run_cmds_requests()) == 3  # set, show, clear
    assert set(switch.port_vlans(ports).values()) == {None}


def test_set_and_clear_are_idempotent(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    switch.set_vlan(["Et5"], 42)
    switch.set_vlan(["Et5", "Et5"], 42)
    assert eapi.vlan_of("Ethernet5") == ("dot1qTunnel", 42)
    switch.clear(["Et5"])
    switch.clear(["Et5"])
    assert eapi.vlan_of("Ethernet5") == ("access", 1)


def test_moving_a_port_to_another_vlan(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    switch.set_vlan(["Et9"], 10)
    switch.set_vlan(["Et9"], 11)
    assert switch.port_vlans(["Et9"]) == {"Et9": 11}


def test_empty_port_list_sends_nothing(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    switch.set_vlan([], 10)
    switch.clear([])
    assert switch.port_vlans([]) == {}
    assert eapi.requests == []


def test_access_and_trunk_ports_read_as_none(eapi: FakeEapi) -> None:
    raw_run(eapi, ["enable", "configure", "interface Et2", "switchport access vlan 30"])
    raw_run(eapi, ["enable", "configure", "interface Et3", "switchport mode trunk"])
    assert switch_for(eapi).port_vlans(["Et2", "Et3"]) == {"Et2": None, "Et3": None}


def test_port_unknown_to_the_switch_is_an_error_naming_it(eapi: FakeEapi) -> None:
    switch = switch_for(eapi)
    with pytest.raises(BackendError, match=r"no switchport Et99 \(check node_map\)"):
        switch.port_vlans(["Et1", "Et99"])


def test_classic_url_without_scheme(eapi: FakeEapi) -> None:
    switch = AristaSwitch(eapi.classic_url, "admin", PASSWORD)
    assert switch.url == eapi.url
    switch.set_vlan(["Et1"], 3)
    assert eapi.vlan_of("Ethernet1") == ("dot1qTunnel", 3)


def test_bare_host_gets_the_command_api_path(eapi: FakeEapi) -> None:
    switch = AristaSwitch(f"127.0.0.1:{eapi.port}", "admin", PASSWORD)
    assert switch.url == eapi.url
    assert switch.port_vlans(["Et1"]) == {"Et1": None}


def test_importing_the_backend_does_not_import_requests() -> None:
    """igor and igor-tick import the module on paths that never talk to a switch."""
    probe = "import sys, igor_tui.backends.arista; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------- TLS


def test_https_with_the_switch_certificate_as_ca_file(tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    with FakeEapi(password=PASSWORD, tls_cert=cert, tls_key=key) as fake:
        assert fake.url.startswith("https://")
        switch = AristaSwitch(fake.url, "admin", PASSWORD, ca_file=cert)
        switch.set_vlan(["Et1"], 12)
        assert switch.port_vlans(["Et1"]) == {"Et1": 12}


def test_https_self_signed_is_refused_unless_verification_is_off(tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    with FakeEapi(password=PASSWORD, tls_cert=cert, tls_key=key) as fake:
        with pytest.raises(BackendError, match="TLS failed") as err:
            AristaSwitch(fake.url, "admin", PASSWORD).clear(["Et1"])
        assert "network_verify_tls" in str(err.value)
        assert fake.run_cmds_requests() == []
        AristaSwitch(fake.url, "admin", PASSWORD, verify_tls=False).set_vlan(["Et1"], 13)
        assert fake.vlan_of("Ethernet1") == ("dot1qTunnel", 13)


# --------------------------------------------------------------------------------- credentials, auth


def test_credentials_only_in_the_basic_auth_header(eapi: FakeEapi) -> None:
    switch_for(eapi).set_vlan(["Et1"], 5)
    (request,) = eapi.requests
    assert request.authorized
    assert request.authorization.startswith("Basic ")
    assert PASSWORD not in request.path
    assert PASSWORD not in request.body
    assert PASSWORD not in repr(switch_for(eapi))


def test_wrong_password_is_a_401_error_without_the_password(eapi: FakeEapi) -> None:
    wrong = "not-the-Right-one-42"
    switch = switch_for(eapi, password=wrong)
    with pytest.raises(BackendError) as err:
        switch.set_vlan(["Et1"], 5)
    message = str(err.value)
    assert "HTTP 401" in message
    assert "'admin'" in message
    assert wrong not in message
    assert PASSWORD not in message
    assert eapi.vlan_of("Ethernet1") == ("access", 1)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as err:
        AristaSwitch("http://admin:topsecret@127.0.0.1:1/command-api", "admin", "topsecret")
    assert "topsecret" not in str(err.value)


@pytest.mark.parametrize(
    ("url", "timeout", "pattern"),
    [
        ("ftp://127.0.0.1/x", 1.0, "unsupported scheme"),
        ("127.0.0.1:notaport/command-api", 1.0, "bad port"),
        ("http:///command-api", 1.0, "no host"),
        ("127.0.0.1:80", 0.0, "network_timeout"),
    ],
)
def test_bad_constructor_arguments(url: str, timeout: float, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        AristaSwitch(url, "admin", "pw", timeout=timeout)


# ------------------------------------------------------------------------------------ switch errors


def test_json_rpc_error_names_the_failing_command(eapi: FakeEapi) -> None:
    """Et2 is in range but the fake switch has only 64 ports: `interface Et65` is the rejected command."""
    with pytest.raises(BackendError) as err:
        switch_for(eapi).set_vlan(["Et1", "Et65", "Et2"], 100)
    message = str(err.value)
    assert "rejected `interface Et65` (command 6 of 11)" in message
    assert "Invalid input" in message
    assert "eAPI error 1002" in message
    assert "setting VLAN 100 on Et1, Et65, Et2" in message


def test_partial_application_like_real_eapi(eapi: FakeEapi) -> None:
    """Real eAPI keeps the commands before the failing one and never runs those after it; so does the
    fake, and a retry with good ports completes the change (set_vlan is idempotent)."""
    switch = switch_for(eapi)
    with pytest.raises(BackendError):
        switch.set_vlan(["Et1", "Et65", "Et2"], 100)
    assert eapi.vlan_of("Ethernet1") == ("dot1qTunnel", 100)
    assert eapi.vlan_of("Ethernet2") == ("access", 1)
    switch.set_vlan(["Et1", "Et2"], 100)
    assert switch.port_vlans(["Et1", "Et2"]) == {"Et1": 100, "Et2": 100}


def test_forced_json_rpc_error_without_data_is_reported(eapi: FakeEapi) -> None:
    eapi.rpc_error = (1000, f"CLI command 4 of 5 'switchport mode dot1q-tunnel' failed: {PASSWORD}")
    with pytest.raises(BackendError) as err:
        switch_for(eapi).set_vlan(["Et1"], 9)
    message = str(err.value)
    assert "rejected `switchport mode dot1q-tunnel` (command 4 of 5)" in message
    assert "eAPI error 1000" in message
    assert PASSWORD not in message


def test_json_rpc_error_without_a_command_number(eapi: FakeEapi) -> None:
    eapi.rpc_error = (1005, "switch is busy")
    with pytest.raises(BackendError, match=r"returned eAPI error 1005 while clearing Et1: switch is busy"):
        switch_for(eapi).clear(["Et1"])


def test_http_500_with_status_and_excerpt_and_no_password(eapi: FakeEapi) -> None:
    eapi.http_status = 500
    eapi.http_body = f"internal error: login {PASSWORD} " + "x" * 5000
    with pytest.raises(BackendError) as err:
        switch_for(eapi).set_vlan(["Et1"], 5)
    message = str(err.value)
    assert "HTTP 500" in message
    assert "internal error" in message
    assert PASSWORD not in message
    assert len(message) < 400


def test_reply_that_is_not_json_rpc(eapi: FakeEapi) -> None:
    eapi.http_status = 200
    eapi.http_body = "<html>captive portal</html>"
    with pytest.raises(BackendError, match=r"not JSON.*captive portal"):
        switch_for(eapi).port_vlans(["Et1"])


def test_hang_times_out_within_the_configured_timeout() -> None:
    fake = FakeEapi(password=PASSWORD, hang=30.0).start()  # stop() ends the hang, unapplied
    switch = switch_for(fake, timeout=0.5)
    finished = threading.Event()
    errors: list[BackendError] = []

    def call() -> None:
        try:
            switch.set_vlan(["Et1"], 5)
        except BackendError as exc:
            errors.append(exc)
        finally:
            finished.set()

    try:
        threading.Thread(target=call, daemon=True).start()
        # Generous bound: only proves the client gave up long before the server's 30 s hang ends.
        assert finished.wait(15), "the client did not give up while the switch hung"
    finally:
        fake.stop()
    assert len(errors) == 1
    assert "did not answer within 0.5s while setting VLAN 5 on Et1" in str(errors[0])
    assert fake.vlan_of("Ethernet1") == ("access", 1)


def test_connection_refused() -> None:
    switch = AristaSwitch(f"127.0.0.1:{closed_port()}/command-api", "admin", PASSWORD, timeout=2)
    with pytest.raises(BackendError) as err:
        switch.clear(["Et1"])
    message = str(err.value)
    assert "unreachable" in message
    assert "refused" in message.lower()
    assert PASSWORD not in message


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "port",
    [
        "Et1\nshutdown",
        "Et1;reload",
        "Et1 ; reload now",
        "Et1,Et2",
        "Et1-4",
        "",
        " Et1",
        "1",
        "Et",
        "Et1\r",
        "Et1/1\nno switchport",
    ],
)
def test_injection_and_malformed_ports_are_rejected_before_sending(eapi: FakeEapi, port: str) -> None:
    switch = switch_for(eapi)
    with pytest.raises(ValidationError, match="invalid switch port name"):
        switch.set_vlan(["Et1", port], 5)
    with pytest.raises(ValidationError, match="invalid switch port name"):
        switch.clear([port])
    with pytest.raises(ValidationError):
        switch.port_vlans([port])
    assert eapi.requests == []


@pytest.mark.parametrize("vlan", [0, -1, 4095, 100000, True])
def test_out_of_range_vlans_are_rejected_before_sending(eapi: FakeEapi, vlan: int) -> None:
    with pytest.raises(ValidationError, match="invalid VLAN"):
        switch_for(eapi).set_vlan(["Et1"], vlan)
    assert eapi.requests == []


def test_a_single_string_is_not_a_port_list(eapi: FakeEapi) -> None:
    with pytest.raises(ValidationError, match="list of port names"):
        switch_for(eapi).clear("Et1")
    assert eapi.requests == []


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Et1", "Ethernet1"),
        ("et1/1", "Ethernet1/1"),
        ("Ethernet 7", "Ethernet7"),
        ("Po10", "Port-Channel10"),
        ("port-channel10", "Port-Channel10"),
        ("Ethernet3/1.100", "Ethernet3/1.100"),
    ],
)
def test_canonical_port_names(given: str, canonical: str) -> None:
    assert validate_port(given) == given
    assert canonical_port(given) == canonical


def test_modular_port_names_round_trip() -> None:
    with FakeEapi(ports=["Ethernet1/1", "Ethernet1/2", "Ethernet2/1"], password=PASSWORD) as fake:
        switch = switch_for(fake)
        switch.set_vlan(["Et1/1", "Ethernet2/1"], 77)
        assert switch.port_vlans(["Et1/1", "Et1/2", "Ethernet2/1"]) == {
            "Et1/1": 77,
            "Et1/2": None,
            "Ethernet2/1": 77,
        }


# ------------------------------------------------------------------------- the fake's own grammar


def test_fake_rejects_config_commands_outside_config_mode(eapi: FakeEapi) -> None:
    doc = raw_run(eapi, ["configure terminal"])
    assert doc["error"] == {
        "code": 1002,
        "message": "CLI command 1 of 1 'configure terminal' failed: invalid command",
        "data": [{"errors": ["Invalid input (privileged mode required)"]}],
    }
    doc = raw_run(eapi, ["enable", "interface Et1"])
    error = doc["error"]
    assert isinstance(error, dict)
    assert error["data"] == [{}, {"errors": ["Invalid input (at token 0: 'interface')"]}]
    doc = raw_run(eapi, ["enable", "configure", "switchport access vlan 5"])
    assert "error" in doc
    assert eapi.vlan_of("Ethernet1") == ("access", 1)


def test_fake_rejects_unknown_commands_and_bad_vlans(eapi: FakeEapi) -> None:
    doc = raw_run(eapi, ["enable", "configure", "interface Et1", "switchport access vlan 4095", "end"])
    error = doc["error"]
    assert isinstance(error, dict)
    assert error["message"] == "CLI command 4 of 5 'switchport access vlan 4095' failed: invalid command"
    assert len(error["data"]) == 4  # results of the commands that ran; `end` never ran
    doc = raw_run(eapi, ["enable", "reload now"])
    assert "error" in doc
    doc = raw_run(eapi, ["enable", "configure", "interface Et1", "switchport mode dot1q-tunnel", "end"])
    assert doc["result"] == [{}, {}, {}, {}, {}]


def test_fake_records_unauthorised_requests(eapi: FakeEapi) -> None:
    with pytest.raises(BackendError):
        switch_for(eapi, password="nope").clear(["Et1"])
    (request,) = eapi.requests
    assert isinstance(request, RecordedRequest)
    assert not request.authorized
    assert eapi.run_cmds_requests() == []
