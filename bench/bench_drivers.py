"""Real drivers against the protocol emulators: OPC UA read and subscription latency, method round
trips, serial round-trip times, and the CPU each driver costs at the rates a station polls it.

Run: python -m bench.bench_drivers [--samples N] [--cpu-seconds S]
Writes the section "drivers" of docs/benchmarks.md. The emulators run in their own process
(`powderlab emulate`), so the CPU figures are the drivers' alone.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from asyncua import Client, ua

from bench.report import markdown_table, write_section
from powderlab.cli.emulate import EmulatorProcess
from powderlab.core.clock import WallClock
from powderlab.core.site import SiteProfile
from powderlab.drivers import real
from powderlab.drivers.base import Device
from powderlab.drivers.real import eurotherm_map as m


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stats_ms(samples: list[float]) -> tuple[str, str, str]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.2f}", f"{1000 * p95:.2f}", f"{1000 * ordered[-1]:.2f}"


def timed(action: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def subscription_latency(endpoint: str, device: Device, count: int) -> list[float]:
    """Write a PLC input from a second client; time until the driver's subscription cache shows it."""
    link = device.plc.link  # type: ignore[attr-defined]
    key = device.plc.nodes["frequency_setpoint"]  # type: ignore[attr-defined]
    samples: list[float] = []

    async def run() -> None:
        async with Client(endpoint) as writer:
            index = await writer.get_namespace_index("urn:powderlab:emulator")
            node = writer.get_node(ua.NodeId(key, index))
            for i in range(count):
                value = 3.0 + (i % 20) + 0.001 * i
                start = time.perf_counter()
                await node.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
                while link.cached(key) != value:
                    await __import__("asyncio").sleep(0.0005)
                samples.append(time.perf_counter() - start)

    import asyncio

    asyncio.run(run())
    return samples


def cpu_at_rate(action: Any, rate_hz: float, seconds: float) -> float:
    """Process CPU seconds per wall second while `action` runs at rate_hz (one driver active)."""
    stop = threading.Event()

    def loop() -> None:
        period = 1.0 / rate_hz
        next_at = time.monotonic()
        while not stop.is_set():
            action()
            next_at += period
            stop.wait(max(0.0, next_at - time.monotonic()))

    cpu0, wall0 = time.process_time(), time.monotonic()
    worker = threading.Thread(target=loop)
    worker.start()
    time.sleep(seconds)
    stop.set()
    worker.join()
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--cpu-seconds", type=float, default=5.0)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="powderlab-bench-")
    variables = {"POWDERLAB_EMULATOR_DIR": directory, "POWDERLAB_OPCUA_PORT": str(free_port())}
    os.environ.update(variables)
    emulators = EmulatorProcess("emulated", Path(directory) / "emulators.log")
    emulators.wait_ready()
    profile = SiteProfile.load("emulated")
    clock = WallClock()

    def device(station: str, name: str) -> Device:
        built = real.build_device(profile.station(station).device(name), clock, {"variables": variables})
        built.connect()
        return built

    try:
        arm, mill, furnace = device("transfer", "arm_a"), device("milling", "mill"), device("furnaces", "furnace_1")
        balance, dispenser = device("dosing", "balance"), device("dosing", "dispenser")
        n = args.samples
        latency = [
            ["OPC UA read, 1 variable (Read service)", *stats_ms(timed(lambda: arm.link.read([arm.axes[0]]), n))],
            ["OPC UA read, 6 axes in one request", *stats_ms(timed(lambda: arm.link.read(arm.axes), n))],
            [
                "OPC UA subscription: write by another client -> driver cache (publishing 20 ms)",
                *stats_ms(subscription_latency(arm.link.settings.endpoint, mill, min(n, 200))),
            ],
            ["OPC UA method + completion via subscription (gripper, 0.3 s device time excluded)", "", "", ""],
            ["serial MT-SICS `SI` round trip (balance)", *stats_ms(timed(balance.read, n))],
            ["serial PDL/1 `STATUS?` round trip (dosing unit)", *stats_ms(timed(dispenser._status, n))],
            ["Modbus RTU read PV (1 holding register)", *stats_ms(timed(lambda: furnace.modbus.read(m.PV), n))],
        ]
        grip = timed(lambda: (arm.set_gripper(True), arm.set_gripper(False)), 20)
        latency[3][1:] = [f"{1000 * (statistics.median(grip) / 2 - 0.3):.1f}", "", ""]
        cpu_rows = []
        for name, action, rates in (
            ("arm (OPC UA: status from the subscription cache)", arm.status, (1.0, 10.0)),
            ("mill (OPC UA PLC: state from the cache)", mill.state, (1.0, 10.0)),
            ("furnace (Modbus PV + program + PLC door)", furnace.status, (1.0, 10.0)),
            ("balance (MT-SICS `SI`)", balance.read, (1.0, 10.0)),
            ("dosing unit (PDL/1 `STATUS?`)", dispenser.status, (1.0, 10.0)),
        ):
            cpu_rows.append([name, *(f"{100 * cpu_at_rate(action, rate, args.cpu_seconds):.2f} %" for rate in rates)])
        idle = cpu_at_rate(lambda: None, 1.0, args.cpu_seconds)
        for built in (arm, mill, furnace, balance, dispenser):
            built.disconnect()
    finally:
        emulators.stop()
    body = (
        "Real drivers (src/powderlab/drivers/real) against `powderlab emulate --site emulated`, which runs in its "
        "own process: OPC UA over loopback TCP (asyncua 2.1, no security), serial on pseudo-terminals. "
        f"Latencies over {n} requests (ms):\n\n"
        + markdown_table(["what", "median", "p95", "max"], latency)
        + "\n\nCPU of this process (all five drivers connected; one of them polled at a time) as a share of one "
        "core, at the station status rate (1 Hz) and at a closed loop's rate (10 Hz). The OPC UA drivers keep a "
        "subscription and an event loop thread running even when idle; the baseline with every driver "
        f"connected and nothing polled is {100 * idle:.2f} %.\n\n"
        + markdown_table(["driver", "1 Hz", "10 Hz"], cpu_rows)
        + "\n"
    )
    path = write_section("drivers", "Real drivers: OPC UA and serial latency, CPU per driver", body)
    print(body)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
