"""The digital twin: real-time factor with both arms moving, wall time per transfer, camera frame time.

Run: python -m bench.bench_twin [--sim-seconds S] [--transfers N] [--frames N]
Writes the section "twin" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.report import markdown_table, write_section
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile
from powderlab.stations.lab import LocalLab
from powderlab.stations.transfer import TransferRequest
from powderlab.twin.arm import HOME
from powderlab.twin.camera import Camera
from powderlab.twin.server import TwinServer
from powderlab.twin.world import TwinClock, World

SWING = np.array([1.2, -0.4, -0.6, 0.3, 0.0, 1.0])  # joint offsets the arms swing through


def real_time_factor(mode: str, sim_seconds: float) -> tuple[float, float, int]:
    """Sim seconds per wall second and per CPU second (one core) of the whole cell, both arms moving."""
    world = World(mode=mode)
    try:
        for arm in world.arms.values():
            home = np.array(HOME)
            arm.start([home, home + SWING, home, home + SWING, home], speed=0.3)
        for model in world.devices.values():  # the process models run too: heat a furnace
            if model.kind == "furnace":
                model.temperature = 600.0
        steps = world.physics_steps
        start, cpu = time.perf_counter(), time.thread_time()
        done = 0.0
        while done < sim_seconds:
            for arm in world.arms.values():  # keep them moving for the whole run
                if arm.motion is None:
                    home = np.array(HOME)
                    arm.start([arm.q.copy(), home + SWING, home], speed=0.3)
            world.advance(0.1)
            done += 0.1
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        return done / wall, done / cpu, world.physics_steps - steps
    finally:
        world.close()


def transfers(mode: str, count: int) -> tuple[float, float, float]:
    """(mean wall s, mean sim s, worst placement error mm) per transfer by arm_a, storage <-> dosing."""
    site = SiteProfile.load("default")
    world = World(site, mode=mode)
    folder = Path(tempfile.mkdtemp(prefix="plb-"))
    server = TwinServer(world, str(folder / "twin.sock"), manual=True).start()
    lab = LocalLab(
        site, "sim", TwinClock(world), backend_options={n: {"twin_address": server.address} for n in site.stations}
    )
    try:
        walls, sims, errors = [], [], []
        route = [("storage/1", "dosing/balance"), ("dosing/balance", "storage/1")]
        for i in range(count):
            source, destination = route[i % 2]
            start_wall, start_sim = time.perf_counter(), world.time
            outcome = lab["transfer"].run(
                "transfer", TransferRequest(SampleRef("", "crucible_01"), source, destination)
            )
            if not outcome.ok:
                raise RuntimeError(outcome.message)
            walls.append(time.perf_counter() - start_wall)
            sims.append(world.time - start_sim)
            errors.append(1000 * world.slot_error_m(world.items["crucible_01"], destination))
        return float(np.mean(walls)), float(np.mean(sims)), float(np.max(errors))
    finally:
        lab.close()
        server.stop()
        world.close()
        shutil.rmtree(folder, ignore_errors=True)


def frame_time(frames: int) -> tuple[float, int, int]:
    world = World()
    try:
        camera = Camera(world)
        camera.render()
        start = time.perf_counter()
        for _ in range(frames):
            camera.render()
        return (time.perf_counter() - start) / frames, camera.width, camera.height
    finally:
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-seconds", type=float, default=20.0)
    parser.add_argument("--transfers", type=int, default=4)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    rows = []
    for mode in ("physics", "kinematic"):
        factor, cpu_factor, steps = real_time_factor(mode, args.sim_seconds)
        wall, sim, error = transfers(mode, args.transfers)
        rate = f"{steps / args.sim_seconds:.0f} Hz" if steps else "none"
        rows.append([mode, f"{factor:.1f}x", f"{cpu_factor:.1f}x", rate, f"{wall:.2f}", f"{sim:.1f}", f"{error:.2f}"])
    seconds, width, height = frame_time(args.frames)
    headers = ["mode", "real-time factor (wall)", "real-time factor (CPU of one core)", "physics steps"]
    headers += ["wall s / transfer"]
    headers += ["sim s / transfer", "worst placement error mm"]
    body = (
        f"The reference cell (sim/scenes/cell.yaml: two UR5e arms, 4 furnaces, racks, 40 labware bodies) in "
        f"PyBullet DIRECT on one core. Real-time factor: both arms swinging through their joint space for "
        f"{args.sim_seconds:g} s of sim time while every process model integrates (physics at the scene's "
        "240 Hz), by wall time and by the benchmark thread's CPU time (the machine is shared: wall time "
        "includes waiting for a core). "
        f"Transfers: {args.transfers} transfers storage <-> dosing by arm_a through the transfer station and the "
        "sim drivers over the twin's socket (IK, collision checks of every path, grasp, place); placement error "
        "is the crucible's distance from its slot after it settled.\n\n"
        + markdown_table(headers, rows)
        + f"\n\n- camera frame ({width}x{height}, TinyRenderer, headless): {1000 * seconds:.0f} ms\n"
    )
    path = write_section("twin", "Digital twin: real-time factor, transfers, camera", body)
    print(body)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
