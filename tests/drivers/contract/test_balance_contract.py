"""Balance contract: every backend."""

import pytest

from powderlab.core.errors import DeviceDisconnectedError, ErrorCode, OverloadError, UnstableReadingError

DEVICE_KIND = "balance"


def test_reads_the_net_load_and_tares_idempotently(harness):
    balance = harness.balance()
    balance.zero()
    harness.put_on_balance(25_000.0)  # an empty crucible
    harness.advance(5.0)
    assert balance.read_stable(10.0).mass_mg == pytest.approx(25_000.0, abs=1.0)
    balance.tare()
    balance.tare()  # same load: tare again gives the same zero
    harness.advance(5.0)
    assert balance.read_stable(10.0).mass_mg == pytest.approx(0.0, abs=balance.readability_mg * 20)
    harness.put_on_balance(500.0)
    harness.advance(5.0)
    assert balance.read_stable(10.0).mass_mg == pytest.approx(500.0, abs=1.0)


def test_overload_names_the_capacity(harness):
    balance = harness.balance()
    harness.put_on_balance(balance.capacity_mg * 1.1)
    harness.advance(5.0)
    with pytest.raises(OverloadError) as error:
        balance.read()
    assert error.value.code is ErrorCode.OVERLOAD
    assert f"{balance.capacity_mg:.0f}" in str(error.value)


def test_unstable_reading_times_out_with_a_clear_error(harness):
    balance = harness.balance()
    harness.make_balance_unstable(True)
    with pytest.raises(UnstableReadingError) as error:
        balance.read_stable(3.0)
    assert "3 s" in str(error.value)
    assert error.value.code is ErrorCode.BALANCE_UNSTABLE


def test_disconnected_balance_refuses_commands_and_says_so_in_status(harness):
    balance = harness.balance()
    balance.disconnect()
    balance.disconnect()  # idempotent
    assert not balance.status().connected
    with pytest.raises(DeviceDisconnectedError):
        balance.read()
    balance.connect()
    assert balance.status().connected
    balance.safe_stop()
