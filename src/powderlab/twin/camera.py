"""A fixed camera over the cell, rendered headless with PyBullet's TinyRenderer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pybullet

if TYPE_CHECKING:
    from powderlab.twin.world import World


class Camera:
    """The scene's `camera:` view; render() gives (width, height, RGB bytes row-major)."""

    def __init__(self, world: World) -> None:
        self.world = world
        spec = world.scene.raw.get("camera") or {}
        self.width, self.height = int(spec.get("width", 320)), int(spec.get("height", 240))
        c = world.client
        self.view = c.computeViewMatrix(
            spec.get("eye", [0.4, -1.6, 1.4]), spec.get("target", [0.4, 0, 0]), spec.get("up", [0, 0, 1])
        )
        self.projection = c.computeProjectionMatrixFOV(
            float(spec.get("fov_deg", 50)), self.width / self.height, 0.05, 6.0
        )

    def render(self) -> tuple[int, int, bytes]:
        with self.world.lock:
            _, _, rgba, _, _ = self.world.client.getCameraImage(
                self.width, self.height, self.view, self.projection, renderer=pybullet.ER_TINY_RENDERER
            )
        pixels = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3]
        return self.width, self.height, pixels.tobytes()
