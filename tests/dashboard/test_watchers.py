"""The dashboard counts the browsers that have its live view open (the lab's 'somebody is here')."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from powderlab.dashboard.app import DashboardSettings, create_app, watching
from powderlab.dashboard.audit import CommandLog
from powderlab.dashboard.auth import UserStore


class StillLab:
    """A monitor of a lab where nothing changes."""

    version = 1

    def snapshot(self) -> dict[str, Any]:
        return {"stations": {}}


def test_open_websockets_are_counted(tmp_path: Path) -> None:
    app = create_app(
        StillLab(),
        object(),  # no command is sent
        UserStore(tmp_path / "users.yaml"),
        CommandLog(tmp_path / "log.jsonl"),
        DashboardSettings(push_period_s=0.05),
    )

    async def scenario() -> list[int]:
        counts = [watching(app)]
        async with TestClient(TestServer(app)) as client:
            first = await client.ws_connect("/ws")
            await first.receive_json()  # served: the handler runs
            second = await client.ws_connect("/ws")
            await second.receive_json()
            counts.append(watching(app))
            await first.close()
            for _ in range(100):
                if watching(app) == 1:
                    break
                await asyncio.sleep(0.05)
            counts.append(watching(app))
            await second.close()
            for _ in range(100):
                if watching(app) == 0:
                    break
                await asyncio.sleep(0.05)
            counts.append(watching(app))
        return counts

    assert asyncio.run(scenario()) == [0, 2, 1, 0]
