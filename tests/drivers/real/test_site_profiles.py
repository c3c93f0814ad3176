"""The emulated and the example real site profiles, and `powderlab certs create`."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509

from powderlab.cli.main import main
from powderlab.core.clock import WallClock
from powderlab.core.errors import ValidationError
from powderlab.core.site import SiteProfile
from powderlab.drivers import real


@pytest.mark.parametrize("site", ["emulated", "example-site"])
def test_every_device_has_a_connection_with_a_known_protocol(site):
    profile = SiteProfile.load(site)
    devices = [d for s in profile.stations.values() for d in s.devices.values()]
    assert {d.kind for d in devices} == {"balance", "powder_dispenser", "mill", "furnace", "diffractometer", "arm"}
    for device in devices:
        assert (device.kind, device.connection.get("protocol")) in real.DRIVERS, device.name


def test_only_the_emulated_profile_runs_unsecured():
    emulated = SiteProfile.load("emulated")
    assert emulated.raw.get("emulated") is True
    example = SiteProfile.load("example-site")
    for station in example.stations.values():
        for device in station.devices.values():
            for part in (device.connection, device.connection.get("plc") or {}):
                if part.get("protocol") == "opcua":
                    assert part["security"] == "Basic256Sha256,SignAndEncrypt" and not part.get("emulator")


def test_a_real_site_without_its_password_or_certificates_refuses_to_build(monkeypatch):
    arm = SiteProfile.load("example-site").station("transfer").device("arm_a")
    monkeypatch.delenv("POWDERLAB_ARM_A_PASSWORD", raising=False)
    with pytest.raises(ValidationError) as error:
        real.build_device(arm, WallClock())
    assert "POWDERLAB_ARM_A_PASSWORD" in str(error.value)
    monkeypatch.setenv("POWDERLAB_ARM_A_PASSWORD", "x")
    with pytest.raises(ValidationError) as error:
        real.build_device(arm, WallClock())
    assert "powderlab certs create" in str(error.value)


def test_unknown_protocol_names_the_allowed_ones():
    balance = SiteProfile.load("emulated").station("dosing").device("balance")
    wrong = type(balance)(balance.name, balance.kind, balance.settings, {**balance.connection, "protocol": "rs232"})
    with pytest.raises(ValidationError) as error:
        real.build_device(wrong, WallClock())
    assert "mt-sics" in str(error.value)


def test_certs_create_writes_an_opcua_application_certificate(tmp_path, capsys):
    assert main(["certs", "create", "--out", str(tmp_path), "--name", "cell", "--uri", "urn:lab:cell"]) == 0
    certificate = x509.load_der_x509_certificate((tmp_path / "cell-cert.der").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:lab:cell" in names.get_values_for_type(x509.UniformResourceIdentifier)
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.data_encipherment
    assert stat.S_IMODE((tmp_path / "cell-key.pem").stat().st_mode) == 0o600
    assert "sha256" in capsys.readouterr().out
    assert main(["certs", "create", "--out", str(tmp_path), "--name", "cell"]) == 2  # no silent overwrite
