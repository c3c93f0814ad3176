"""Secured OPC UA: Basic256Sha256 Sign / SignAndEncrypt, certificates and passwords, right and wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from powderlab.core.errors import DeviceDisconnectedError, DeviceError, ValidationError
from powderlab.core.site import DeviceConfig
from powderlab.drivers.arm import Height
from powderlab.drivers.real.certs import create_certificate
from powderlab.drivers.real.opcua_arm import OpcUaArm
from powderlab.drivers.real.opcua_settings import opcua_settings
from powderlab.emulators.arm_model import ArmModel
from powderlab.emulators.clock import FastClock
from powderlab.emulators.opcua_server import OpcUaEmulator, ServerSecurity
from tests.drivers.real.shared import free_port


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpcUaEmulator, Path, FastClock]]:
    certs = tmp_path_factory.mktemp("certs")
    server = create_certificate(certs, "server", "urn:powderlab:emulator-server")
    create_certificate(certs, "client", "urn:powderlab:client")
    create_certificate(certs, "rogue", "urn:powderlab:client")
    clock = FastClock(20.0)
    security = ServerSecurity(server.certificate, server.private_key, (certs / "client-cert.der",), {"lab": "s3cret"})
    emulator = OpcUaEmulator({"arm_a": ArmModel("arm_a", clock)}, port=free_port(), security=security)
    emulator.start()
    yield emulator, certs, clock
    emulator.stop()


def arm(server: OpcUaEmulator, certs: Path, clock: FastClock, **overrides: object) -> OpcUaArm:
    connection = {
        "protocol": "opcua",
        "endpoint": server.endpoint,
        "namespace": "urn:powderlab:emulator",
        "security": "Basic256Sha256,SignAndEncrypt",
        "certificate": str(certs / "client-cert.der"),
        "private_key": str(certs / "client-key.pem"),
        "server_certificate": str(certs / "server-cert.der"),
        "username": "lab",
        "password": "s3cret",
        "node": "arm_a",
        **overrides,
    }
    return OpcUaArm(DeviceConfig("arm_a", "arm", {"serves": ["storage/*"]}, connection), clock)


@pytest.mark.parametrize("mode", ["Basic256Sha256,Sign", "Basic256Sha256,SignAndEncrypt"])
def test_trusted_certificate_and_password_connect_and_command(secured, mode):
    emulator, certs, clock = secured
    device = arm(emulator, certs, clock, security=mode)
    device.connect()
    try:
        device.move_to("storage/3", Height.APPROACH)
        assert device.joint_positions() == pytest.approx(ArmModel.path_target("storage/3@approach"), abs=1e-6)
        assert device.status().connected
    finally:
        device.disconnect()


def test_wrong_password_is_refused(secured):
    emulator, certs, clock = secured
    device = arm(emulator, certs, clock, password="guess")
    with pytest.raises(DeviceError) as error:
        device.connect()
    assert "refused the session" in str(error.value) and "BadUserAccessDenied" in str(error.value)
    assert not device.connected


def test_untrusted_client_certificate_is_refused(secured):
    emulator, certs, clock = secured
    device = arm(
        emulator, certs, clock, certificate=str(certs / "rogue-cert.der"), private_key=str(certs / "rogue-key.pem")
    )
    with pytest.raises(DeviceError) as error:
        device.connect()
    assert "BadCertificateUntrusted" in str(error.value)
    assert not device.connected


def test_anonymous_unsecured_client_finds_no_endpoint_on_a_secured_server(secured):
    emulator, certs, clock = secured
    device = arm(emulator, certs, clock, security="none", emulator=True, username=None)
    with pytest.raises(DeviceDisconnectedError) as error:
        device.connect()
    assert "No matching endpoints" in str(error.value)
    assert not device.connected


def test_security_none_only_for_emulators_on_loopback(tmp_path):
    base = {"protocol": "opcua", "namespace": "urn:x", "security": "none"}
    with pytest.raises(ValidationError) as error:
        opcua_settings("arm_a", {**base, "endpoint": "opc.tcp://127.0.0.1:4840/"})
    assert "emulator" in str(error.value) and "powderlab certs create" in str(error.value)
    with pytest.raises(ValidationError):
        opcua_settings("arm_a", {**base, "endpoint": "opc.tcp://10.0.0.5:4840/", "emulator": True})
    assert not opcua_settings("arm_a", {**base, "endpoint": "opc.tcp://127.0.0.1:4840/", "emulator": True}).secured
    with pytest.raises(ValidationError) as error:
        opcua_settings(
            "arm_a",
            {
                **base,
                "endpoint": "opc.tcp://10.0.0.5:4840/",
                "security": "Basic256Sha256,Sign",
                "certificate": str(tmp_path / "missing.der"),
            },
        )
    assert "private_key" in str(error.value) or "missing.der" in str(error.value)


def test_unreachable_server_is_a_disconnected_error():
    device = OpcUaArm(
        DeviceConfig(
            "arm_a",
            "arm",
            {},
            {
                "protocol": "opcua",
                "endpoint": f"opc.tcp://127.0.0.1:{free_port()}/",
                "emulator": True,
                "security": "none",
            },
        ),
        FastClock(20.0),
    )
    with pytest.raises(DeviceDisconnectedError) as error:
        device.connect()
    assert "refused" in str(error.value)
    assert device.status().state == "disconnected"
