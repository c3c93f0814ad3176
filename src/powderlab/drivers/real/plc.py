"""PLC signals through a node map from the site profile (`connection.nodes`: signal -> node id).

Node ids are relative string ids in the connection's namespace (`PLC.furnace_1.DoorOpen`) or
full OPC UA ids (`ns=4;s=GVL.Furnace1.bDoorOpen`). Every signal is watched through the link's
subscription; writes are typed by what the driver declares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asyncua import ua

from powderlab.core.errors import ValidationError
from powderlab.drivers.real.opcua_link import OpcUaLink
from powderlab.drivers.real.opcua_settings import opcua_settings


class PlcSignals:
    """Named PLC signals of one device over one OPC UA link."""

    def __init__(
        self,
        device: str,
        connection: Mapping[str, Any],
        signals: Sequence[str],
        base_dir: Path | None = None,
    ) -> None:
        nodes = connection.get("nodes") or {}
        missing = [s for s in signals if s not in nodes]
        if missing:
            raise ValidationError(
                f"{device}: connection.nodes", f"node ids missing for {', '.join(missing)} (the PLC node map)"
            )
        self.nodes = {signal: str(nodes[signal]) for signal in signals}
        self.link = OpcUaLink(device, opcua_settings(device, connection, base_dir), list(self.nodes.values()))

    def get(self, signal: str) -> Any:
        return self.link.value(self.nodes[signal])

    def cached(self, signal: str, default: Any = None) -> Any:
        return self.link.cached(self.nodes[signal], default)

    def write_bool(self, signal: str, value: bool) -> None:
        self.link.write(self.nodes[signal], bool(value), ua.VariantType.Boolean)

    def write_double(self, signal: str, value: float) -> None:
        self.link.write(self.nodes[signal], float(value), ua.VariantType.Double)
