"""The emulated diffractometer's OPC UA object (an instrument server, as XRD vendors ship them).

Object `<xrd>` with variables `<xrd>.Scanning`, `.Progress`, `.LoadedHolder`, `.CleanHolders`,
`.PreparedHolder`, `.PreparedMassMg`, `.CommandStatus` (Int32[3]: id, state, ErrorCode) and
`.CommandMessage`; methods `Prepare(String crucible, Double grind_s) -> UInt32 id` (runs for the
grind time, ends in CommandStatus), and `Load(String)`, `Unload()`, `StartScan(Double start,
Double end, Double step, Double time_s)`, `AbortScan()` -> [Int32 ErrorCode, String message],
`GetResult() -> [Int32, String, Double[] two_theta, Double[] intensity, String holder]`.
Physics: the mock diffractometer.
"""

from __future__ import annotations

import threading
from typing import Any

from asyncua import ua

from powderlab.core.errors import PowderLabError
from powderlab.core.recipes import ScanSettings
from powderlab.drivers.mock.diffractometer import MockDiffractometer
from powderlab.emulators.arm_model import CommandState


class XrdModel:
    """The mock diffractometer behind a command-id interface."""

    def __init__(self, physics: MockDiffractometer) -> None:
        self.physics = physics
        self.physics.connect()
        self.lock = threading.RLock()
        self.command = [0, int(CommandState.IDLE), 0]
        self.message = ""
        self.prepared_holder = ""
        self.prepared_mass_mg = 0.0
        self._threads: list[threading.Thread] = []

    def prepare(self, crucible: str, grind_s: float) -> int:
        with self.lock:
            command_id = self.command[0] + 1
            self.command = [command_id, int(CommandState.RUNNING), 0]

        def work() -> None:
            try:
                holder = self.physics.prepare(crucible, grind_s)
            except PowderLabError as error:
                with self.lock:
                    self.command, self.message = [command_id, int(CommandState.FAILED), int(error.code)], str(error)
                return
            with self.lock:
                self.prepared_holder, self.prepared_mass_mg = holder.holder_id, holder.sample_mg
                self.command, self.message = [command_id, int(CommandState.DONE), 0], ""

        thread = threading.Thread(target=work, daemon=True, name="xrd-prepare")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return command_id

    def call(self, function: Any, *args: Any) -> list[ua.Variant]:
        try:
            with self.lock:
                function(*args)
        except PowderLabError as error:
            return [ua.Variant(int(error.code), ua.VariantType.Int32), ua.Variant(str(error), ua.VariantType.String)]
        return [ua.Variant(0, ua.VariantType.Int32), ua.Variant("", ua.VariantType.String)]

    def start_scan(self, start: float, end: float, step: float, time_s: float) -> None:
        self.physics.start_scan(ScanSettings(start, end, step, time_s))

    def result(self) -> list[ua.Variant]:
        with self.lock:
            try:
                pattern = self.physics.result()
            except PowderLabError as error:
                code, message, two_theta, intensity, holder = int(error.code), str(error), [], [], ""
            else:
                code, message, holder = 0, "", pattern.holder_id
                two_theta = [float(v) for v in pattern.two_theta_deg]
                intensity = [float(v) for v in pattern.intensity]
        return [
            ua.Variant(code, ua.VariantType.Int32),
            ua.Variant(message, ua.VariantType.String),
            ua.Variant(two_theta, ua.VariantType.Double),
            ua.Variant(intensity, ua.VariantType.Double),
            ua.Variant(holder, ua.VariantType.String),
        ]

    def tick(self) -> None:
        """Nothing to integrate: the mock computes scan progress from the clock."""

    def values(self, name: str) -> dict[str, Any]:
        with self.lock:
            state = self.physics.scan_state()
            return {
                f"{name}.Scanning": state.scanning,
                f"{name}.Progress": float(state.progress),
                f"{name}.LoadedHolder": state.loaded_holder,
                f"{name}.CleanHolders": len(self.physics._clean),
                f"{name}.PreparedHolder": self.prepared_holder,
                f"{name}.PreparedMassMg": float(self.prepared_mass_mg),
                f"{name}.CommandMessage": self.message,
                f"{name}.CommandStatus": list(self.command),
            }


async def add_xrd(server: Any, objects: Any, name: str, xrd: XrdModel) -> None:
    """Add the diffractometer's object, variables and methods to an OpcUaEmulator's space."""
    node = await objects.add_object(server._id(name), name)
    for key, value in xrd.values(name).items():
        await server._variable(node, key, value)
    string, double, int32 = ua.VariantType.String, ua.VariantType.Double, ua.VariantType.Int32

    def now() -> XrdModel:
        return server.xrds[name]  # looked up per call: tests swap in fresh models

    def simple(action: str) -> Any:
        async def method(parent: Any, *args: ua.Variant) -> list[ua.Variant]:
            model = now()
            target = model if action == "start_scan" else model.physics
            result = model.call(getattr(target, action), *[a.Value for a in args])
            await server.publish()
            return result

        return method

    async def prepare(parent: Any, crucible: ua.Variant, grind: ua.Variant) -> list[ua.Variant]:
        command_id = now().prepare(str(crucible.Value), float(grind.Value))
        await server.publish()
        return [ua.Variant(command_id, ua.VariantType.UInt32)]

    async def result(parent: Any) -> list[ua.Variant]:
        return now().result()

    await node.add_method(server._id(f"{name}.Prepare"), "Prepare", prepare, [string, double], [ua.VariantType.UInt32])
    await node.add_method(server._id(f"{name}.Load"), "Load", simple("load"), [string], [int32, string])
    await node.add_method(server._id(f"{name}.Unload"), "Unload", simple("unload"), [], [int32, string])
    await node.add_method(
        server._id(f"{name}.StartScan"), "StartScan", simple("start_scan"), [double] * 4, [int32, string]
    )
    await node.add_method(server._id(f"{name}.AbortScan"), "AbortScan", simple("abort_scan"), [], [int32, string])
    await node.add_method(
        server._id(f"{name}.GetResult"), "GetResult", result, [], [int32, string, double, double, string]
    )
