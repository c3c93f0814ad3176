"""Serial drivers against the emulators on real ptys: framing, checksums / CRC, retries, garbage."""

from __future__ import annotations

import threading
import time

import pytest

from powderlab.core.errors import DeviceDisconnectedError, DeviceError, DeviceTimeoutError, OverloadError
from powderlab.drivers import real
from powderlab.drivers.dispenser import DoseSpeed
from powderlab.drivers.real import eurotherm_map as m
from powderlab.drivers.real.dosing_protocol import frame, unframe
from powderlab.drivers.real.mtsics import parse_reply
from powderlab.emulators.modbus_slave import ModbusRtuSlave, crc16, with_crc


@pytest.fixture
def devices(lab, clock):
    emulated, variables = lab
    built = {}

    def get(station: str, name: str):  # type: ignore[no-untyped-def]
        if name not in built:
            built[name] = real.build_device(
                emulated.profile.station(station).device(name), clock, {"variables": variables}
            )
            built[name].connect()
        return built[name]

    yield emulated, get
    for device in built.values():
        device.disconnect()


# --- MT-SICS balance ---


def test_balance_retries_past_garbage_and_corrupted_replies(devices):
    emulated, get = devices
    balance = get("dosing", "balance")
    emulated.models.balances["balance"].add_load(1234.5)
    pty = emulated.ptys["balance"]
    pty.prefix_garbage = b"\x00\xff\x13#noise\r\n"
    assert balance.read().mass_mg == pytest.approx(1234.5)
    pty.corrupt_next = True
    assert balance.read_stable(5.0).mass_mg == pytest.approx(1234.5)
    assert balance.line.retried >= 2


def test_balance_silence_is_a_timeout_after_the_retries(devices):
    emulated, get = devices
    balance = get("dosing", "balance")
    emulated.ptys["balance"].swallow_next = 3
    with pytest.raises(DeviceTimeoutError) as error:
        balance.read()
    assert "no reply" in str(error.value) and "3 attempts" in str(error.value)
    assert balance.read().stable  # the line recovers by itself


def test_unknown_command_and_transmission_error_replies(devices):
    _, get = devices
    balance = get("dosing", "balance")
    with pytest.raises(DeviceError) as error:
        balance._ask("XQ")
    assert "ES" in str(error.value) and "XQ" in str(error.value)
    reply = balance.line.transact(b"S\xfe", lambda raw: parse_reply(raw, "S"))
    assert reply.status == "ET"


def test_underload_and_unstable_tare(devices, clock):
    emulated, get = devices
    balance = get("dosing", "balance")
    physics = emulated.models.balances["balance"]
    physics.add_load(-50.0)
    with pytest.raises(OverloadError) as error:
        balance.read_stable(1.0)
    assert "underload" in str(error.value)
    physics.add_load(50.0)
    physics.set_unstable(True)
    start = clock.now()
    with pytest.raises(DeviceError):
        balance.tare(timeout_s=2.0)
    assert clock.now() - start >= 2.0
    assert emulated.models.serial["balance"].commands.count("T") >= 2  # T repeated while unstable


def test_malformed_weight_lines_are_rejected():
    for line in (b"S S 12.3", b"S S abc g", b"S Q 1.0 g", b"T S 1.0 g", b"\xff\xfe"):
        with pytest.raises(Exception) as error:
            parse_reply(line, "S")
        assert type(error.value).__name__ == "BadReply"
    assert parse_reply(b"S S     12.34567 g", "S").mass_mg == pytest.approx(12345.67)
    assert parse_reply(b"S D 1.5 kg", "SI").mass_mg == pytest.approx(1.5e6)


# --- PDL/1 dosing unit ---


def test_dosing_frames_carry_a_checksum_both_ways():
    assert frame("STATUS?") == b"STATUS?*" + f"{0x53 ^ 0x54 ^ 0x41 ^ 0x54 ^ 0x55 ^ 0x53 ^ 0x3F:02X}".encode()
    assert unframe(frame("ACK DOSE 3")) == "ACK DOSE 3"
    for bad in (b"ACK DOSE 3", b"ACK DOSE 3*00", b"ACK\x01*01"):
        with pytest.raises(Exception) as error:
            unframe(bad)
        assert type(error.value).__name__ == "BadReply"


def test_dosing_unit_refuses_bad_checksums_and_unknown_commands(devices):
    emulated, get = devices
    dispenser = get("dosing", "dispenser")
    words = dispenser.line.transact(b"STATUS?*00", lambda raw: unframe(raw).split())
    assert words[:2] == ["NAK", "02"]
    with pytest.raises(DeviceError) as error:
        dispenser._ask("SHAKE 3", "ACK")
    assert "NAK 01" in str(error.value) and "unknown command" in str(error.value)
    emulated.ptys["dispenser"].corrupt_next = True
    assert len(dispenser.heads()) == len(emulated.models.dosing["dispenser"].powders)
    assert dispenser.line.retried >= 1


def test_dosing_cable_pulled_mid_dose_then_plugged_back(devices):
    emulated, get = devices
    dispenser = get("dosing", "dispenser")
    pty = emulated.ptys["dispenser"]
    errors = []

    def dose() -> None:
        try:
            dispenser.dispense("TiO2", 15_000.0, DoseSpeed.FINE)  # minutes of device time
        except Exception as error:
            errors.append(error)

    worker = threading.Thread(target=dose)
    worker.start()
    deadline = time.monotonic() + 10
    while emulated.models.dosing["dispenser"].state != "DOSING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pty.stop()
    worker.join(10)
    assert not worker.is_alive()
    (error,) = errors
    assert isinstance(error, DeviceDisconnectedError), repr(error)
    assert "unknown" in str(error)
    assert not dispenser.status().connected
    pty.start()
    deadline = time.monotonic() + 10
    while not dispenser.connected:  # reopened after the backoff
        assert time.monotonic() < deadline
        time.sleep(0.05)
    dispenser.abort()
    assert dispenser.status().state == "aborted"


# --- Modbus RTU (Eurotherm-style furnace controller) ---


def test_modbus_crc_errors_are_retried_and_silence_times_out(devices):
    emulated, get = devices
    furnace = get("furnaces", "furnace_2")
    pty = emulated.ptys["furnace_2"]
    pty.corrupt_next = True
    assert furnace.temperature_c() == pytest.approx(25.0, abs=0.5)
    pty.swallow_next = 10
    with pytest.raises(DeviceTimeoutError) as error:
        furnace.temperature_c()
    assert "no valid reply" in str(error.value)
    pty.swallow_next = 0
    assert furnace.temperature_c() == pytest.approx(25.0, abs=0.5)


def test_modbus_exception_replies_name_the_register(devices):
    _, get = devices
    furnace = get("furnaces", "furnace_3")
    with pytest.raises(DeviceError) as error:
        furnace.modbus.read(4000)
    assert "4000" in str(error.value) and "illegal data address" in str(error.value)
    with pytest.raises(DeviceError) as error:
        furnace.modbus.write(m.PROGRAM_STATUS, [99])
    assert "illegal data value" in str(error.value)


def test_modbus_slave_resyncs_after_garbage_and_drops_bad_crc():
    class Bank:
        def read(self, address: int, count: int, function: int) -> list[int]:
            return [address + i for i in range(count)]

        def write(self, address: int, values: list[int]) -> None:
            raise KeyError(address)

        def tick(self) -> None:
            pass

    slave = ModbusRtuSlave(1, Bank())
    request = with_crc(bytes([1, 3, 0, 10, 0, 2]))
    reply = slave.feed(b"\x07\x99\x42" + request)
    assert reply == with_crc(bytes([1, 3, 4, 0, 10, 0, 11]))
    broken = request[:-1] + bytes([request[-1] ^ 0xFF])
    assert slave.feed(broken) == b""
    assert slave.bad_crc >= 1
    assert crc16(b"\x01\x03\x00\x00\x00\x01") == 0x0A84
