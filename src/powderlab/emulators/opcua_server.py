"""The emulated OPC UA server: arms (OPC UA Robotics layout), the PLC node map and the XRD.

Address space (namespace urn:powderlab:emulator, string node ids):

    Objects/MotionDeviceSystem/
      MotionDevices/<arm>                       motion device
        <arm>.Axes.Axis_<i>.ParameterSet.ActualPosition    Double, rad (i = 1..6)
        <arm>.ParameterSet.OnPath                          Boolean (moving)
        <arm>.Gripper.Closed / .ObjectDetected / .Opening
      Controllers/<arm>.Controller
        <arm>.Controller.State                             String Idle / Moving / Error
        <arm>.Controller.CommandStatus                     Int32[3]: id, state (0 idle 1 running 2 done
                                                           3 failed), ErrorCode
        <arm>.Controller.CommandMessage                    String
        methods MoveJoints(Double[6], speed) MoveCartesian(Double[6] x y z rx ry rz, speed)
                MovePath(String, speed) SetGripper(Boolean) -> UInt32 command id; Stop() ResetProtectiveStop()
      SafetyStates/<arm>.Safety
        <arm>.Safety.ProtectiveStop / .EmergencyStop       Boolean; .OperationalMode String
    Objects/PLC/PLC.<device>.<Signal>                      the PLC's signals (see plc_model)
    Objects/<xrd>                                          the diffractometer (see xrd_server)

A tick task moves the models on their clock every 10 ms and publishes what changed. Security:
none (emulator profile) or Basic256Sha256 Sign + SignAndEncrypt with a server certificate,
trusted client certificates and username / password users.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from powderlab.drivers.real.aio import LoopThread
from powderlab.drivers.real.certs import load_certificate_der
from powderlab.emulators.arm_model import ArmModel
from powderlab.emulators.plc_model import PlcModel
from powderlab.emulators.xrd_server import XrdModel, add_xrd

NAMESPACE = "urn:powderlab:emulator"
TICK_S = 0.01
HOST = "127.0.0.1"

logging.getLogger("asyncua").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ServerSecurity:
    """Certificates and users of a secured emulator."""

    certificate: Path
    private_key: Path
    trusted_clients: tuple[Path, ...]
    users: Mapping[str, str] = field(default_factory=dict)  # username -> password


class _Users(UserManager):
    """Username / password check; anonymous and unknown users are refused."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


def _variant(value: Any) -> ua.Variant:
    if isinstance(value, bool):
        return ua.Variant(value, ua.VariantType.Boolean)
    if isinstance(value, int):
        return ua.Variant(value, ua.VariantType.Int32)
    if isinstance(value, float):
        return ua.Variant(value, ua.VariantType.Double)
    if isinstance(value, list):
        if value and isinstance(value[0], int) and not isinstance(value[0], bool):
            return ua.Variant(value, ua.VariantType.Int32)
        return ua.Variant([float(v) for v in value], ua.VariantType.Double)
    return ua.Variant(str(value), ua.VariantType.String)


class OpcUaEmulator:
    """An asyncua server on 127.0.0.1 with arms, a PLC and optionally a diffractometer."""

    def __init__(
        self,
        arms: Mapping[str, ArmModel],
        plc: PlcModel | None = None,
        xrds: Mapping[str, XrdModel] | None = None,
        port: int = 4840,
        security: ServerSecurity | None = None,
    ) -> None:
        self.arms = dict(arms)
        self.plc = plc or PlcModel()
        self.xrds = dict(xrds or {})
        self.port = port
        self.security = security
        self.endpoint = f"opc.tcp://{HOST}:{port}/powderlab/"
        self._loop: LoopThread | None = None
        self._server: Server | None = None
        self._nodes: dict[str, Any] = {}  # key -> node
        self._published: dict[str, Any] = {}
        self._tick_task: Any = None
        self.serving = False
        self.ns = 0

    # --- lifecycle ---
    def start(self) -> str:
        """Start serving; returns the endpoint URL."""
        if self._loop is not None:
            return self.endpoint
        self._loop = LoopThread(f"opcua-emulator-{self.port}")
        try:
            self._loop.run(self._start(), 30.0)
        except BaseException:
            self._loop.close()
            self._loop = None
            raise
        self._tick_task = self._loop.spawn(self._tick_forever())
        return self.endpoint

    def pull_cable(self) -> None:
        """The controller goes down: arms halt where they are, every connection drops (plug_in undoes it)."""
        for arm in self.arms.values():
            arm.stop()
        if self._loop is not None and self._server is not None and self.serving:
            self._loop.run(self._server.stop(), 10.0)
            self.serving = False

    def plug_in(self) -> None:
        """Listen again after pull_cable (same endpoint, same address space)."""
        if self._loop is not None and self._server is not None and not self.serving:
            self._loop.run(self._server.start(), 10.0)
            self.serving = True

    def replace_models(
        self, arms: Mapping[str, ArmModel], plc: PlcModel, xrds: Mapping[str, XrdModel] | None = None
    ) -> None:
        """Swap in fresh models with the same names (a clean cell for the next test) and publish them."""
        assert set(arms) == set(self.arms) and set(plc.signals()) == set(self.plc.signals())

        async def _swap() -> None:
            self.arms, self.plc, self.xrds = dict(arms), plc, dict(xrds or {})
            self._published = {}
            await self.publish()

        if self._loop is not None:
            self._loop.run(_swap(), 10.0)

    def stop(self) -> None:
        """Stop serving and free the loop. Idempotent."""
        if self._loop is None:
            return
        try:
            self._loop.run(self._stop(), 10.0)
        finally:
            self._loop.close()
            self._loop = None
            self._server = None

    async def _stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
        if self._server is not None:
            await self._server.stop()

    async def _start(self) -> None:
        server = Server(user_manager=_Users(self.security.users) if self.security else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("PowderLab emulator")
        await server.set_application_uri("urn:powderlab:emulator-server")
        if self.security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            server.set_identity_tokens([ua.AnonymousIdentityToken])
        else:
            await server.load_certificate(str(self.security.certificate))
            await server.load_private_key(str(self.security.private_key))
            server.set_security_policy(
                [ua.SecurityPolicyType.Basic256Sha256_Sign, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
            )
            server.set_identity_tokens([ua.UserNameIdentityToken])
            trusted = {load_certificate_der(path) for path in self.security.trusted_clients}

            async def validate(certificate: Any, app_description: Any) -> None:
                from cryptography.hazmat.primitives import serialization

                if certificate.public_bytes(serialization.Encoding.DER) not in trusted:
                    raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

            server.set_certificate_validator(validate)
        self.ns = await server.register_namespace(NAMESPACE)
        await self._build(server)
        await server.start()
        self._server = server
        self.serving = True

    # --- address space ---
    def _id(self, key: str) -> ua.NodeId:
        return ua.NodeId(key, self.ns)

    async def _variable(self, parent: Any, key: str, value: Any, writable: bool = False) -> Any:
        node = await parent.add_variable(self._id(key), key.rsplit(".", 1)[-1], _variant(value))
        if writable:
            await node.set_writable()
        self._nodes[key] = node
        self._published[key] = value
        return node

    async def _build(self, server: Server) -> None:
        objects = server.nodes.objects
        system = await objects.add_object(self._id("MotionDeviceSystem"), "MotionDeviceSystem")
        devices = await system.add_folder(self._id("MotionDevices"), "MotionDevices")
        controllers = await system.add_folder(self._id("Controllers"), "Controllers")
        safety = await system.add_folder(self._id("SafetyStates"), "SafetyStates")
        for name, arm in self.arms.items():
            await self._build_arm(name, arm, devices, controllers, safety)
        plc = await objects.add_object(self._id("PLC"), "PLC")
        writable = set(self.plc.writable())
        for signal, value in self.plc.signals().items():
            await self._variable(plc, f"PLC.{signal}", value, writable=signal in writable)
        for name, xrd in self.xrds.items():
            await add_xrd(self, objects, name, xrd)

    async def _build_arm(self, name: str, arm: ArmModel, devices: Any, controllers: Any, safety: Any) -> None:
        device = await devices.add_object(self._id(name), name)
        axes = await device.add_object(self._id(f"{name}.Axes"), "Axes")
        for index in range(6):
            axis = await axes.add_object(self._id(f"{name}.Axes.Axis_{index + 1}"), f"Axis_{index + 1}")
            await self._variable(axis, f"{name}.Axes.Axis_{index + 1}.ParameterSet.ActualPosition", arm.joints[index])
        await self._variable(device, f"{name}.ParameterSet.OnPath", False)
        gripper = await device.add_object(self._id(f"{name}.Gripper"), "Gripper")
        await self._variable(gripper, f"{name}.Gripper.Closed", False)
        await self._variable(gripper, f"{name}.Gripper.ObjectDetected", False)
        await self._variable(gripper, f"{name}.Gripper.Opening", 1.0)
        controller = await controllers.add_object(self._id(f"{name}.Controller"), f"{name}_controller")
        await self._variable(controller, f"{name}.Controller.State", "Idle")
        await self._variable(controller, f"{name}.Controller.CommandStatus", [0, 0, 0])
        await self._variable(controller, f"{name}.Controller.CommandMessage", "")
        safety_state = await safety.add_object(self._id(f"{name}.Safety"), f"{name}_safety")
        await self._variable(safety_state, f"{name}.Safety.ProtectiveStop", False)
        await self._variable(safety_state, f"{name}.Safety.EmergencyStop", False)
        await self._variable(safety_state, f"{name}.Safety.OperationalMode", "AUTOMATIC")
        uint = ua.VariantType.UInt32
        dbl, arr = ua.VariantType.Double, ua.VariantType.Double

        def command(function: Any) -> Any:
            async def method(parent: Any, *args: ua.Variant) -> list[ua.Variant]:
                command_id = function(*[a.Value for a in args])
                await self.publish()
                return [ua.Variant(command_id, uint)]

            return method

        def plain(function: Any) -> Any:
            async def method(parent: Any, *args: ua.Variant) -> list[ua.Variant]:
                function()
                await self.publish()
                return []

            return method

        base = f"{name}.Controller"

        def arm_now() -> ArmModel:
            return self.arms[name]  # looked up per call: tests swap in fresh models

        methods = [
            ("MoveJoints", command(lambda j, s: arm_now().move_joints(list(j), float(s))), [arr, dbl], [uint]),
            ("MoveCartesian", command(lambda p, s: arm_now().move_cartesian(list(p), float(s))), [arr, dbl], [uint]),
            (
                "MovePath",
                command(lambda p, s: arm_now().move_path(str(p), float(s))),
                [ua.VariantType.String, dbl],
                [uint],
            ),
            ("SetGripper", command(lambda c: arm_now().set_gripper(bool(c))), [ua.VariantType.Boolean], [uint]),
            ("Stop", plain(lambda: arm_now().stop()), [], []),
            ("ResetProtectiveStop", plain(lambda: arm_now().reset_protective_stop()), [], []),
        ]
        for method_name, function, inputs, outputs in methods:
            await controller.add_method(self._id(f"{base}.{method_name}"), method_name, function, inputs, outputs)

    # --- publishing ---
    def _arm_values(self, name: str, arm: ArmModel) -> dict[str, Any]:
        values: dict[str, Any] = {
            f"{name}.Axes.Axis_{i + 1}.ParameterSet.ActualPosition": float(arm.joints[i]) for i in range(6)
        }
        values.update(
            {
                f"{name}.ParameterSet.OnPath": arm.moving,
                f"{name}.Gripper.Closed": arm.gripper_closed,
                f"{name}.Gripper.ObjectDetected": arm.object_detected,
                f"{name}.Gripper.Opening": 0.0 if arm.gripper_closed else 1.0,
                f"{name}.Controller.State": arm.controller_state,
                f"{name}.Controller.CommandMessage": arm.command_message,
                f"{name}.Controller.CommandStatus": [arm.command_id, int(arm.command_state), int(arm.command_code)],
                f"{name}.Safety.ProtectiveStop": arm.protective_stop,
                f"{name}.Safety.EmergencyStop": arm.emergency_stop,
            }
        )
        return values

    async def publish(self) -> None:
        """Write every value that changed since the last publish (CommandStatus last)."""
        values: dict[str, Any] = {}
        for name, arm in self.arms.items():
            values.update(self._arm_values(name, arm))
        values.update({f"PLC.{signal}": value for signal, value in self.plc.signals().items()})
        for name, xrd in self.xrds.items():
            values.update(xrd.values(name))
        for key, value in values.items():
            if key in self._nodes and (key not in self._published or self._published[key] != value):
                self._published[key] = value
                await self._nodes[key].write_value(_variant(value))

    async def _read_inputs(self) -> None:
        """Feed what clients wrote into the PLC's inputs."""
        for signal in self.plc.writable():
            key = f"PLC.{signal}"
            value = await self._nodes[key].read_value()
            if value != self._published.get(key):
                self._published[key] = value
                self.plc.set(signal, value)

    async def sync(self) -> None:
        """One tick now: inputs in, models to the clock's now, outputs out."""
        await self._read_inputs()
        for arm in self.arms.values():
            arm.tick()
        self.plc.tick()
        for xrd in self.xrds.values():
            xrd.tick()
        await self.publish()

    def tick_now(self) -> None:
        """Run one tick from another thread (tests: after letting time jump)."""
        if self._loop is not None:
            self._loop.run(self.sync(), 5.0)

    async def _tick_forever(self) -> None:
        while True:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                logging.getLogger(__name__).exception("emulator tick failed")
            await asyncio.sleep(TICK_S)
