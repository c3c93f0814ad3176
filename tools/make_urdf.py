"""Write the twin's URDF files into urdf/ (run: python tools/make_urdf.py; the output is committed).

The arm follows the published UR5e DH parameters of powderlab.drivers.kinematics joint by joint
(standard DH: joint i+1 sits at Tz(d_i) Tx(a_i) Rx(alpha_i) of link i), so the flange link of
the URDF is exactly kinematics.forward(q). Geometry is boxes and cylinders only: cheap contacts.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from powderlab.drivers.kinematics import UR5E_A, UR5E_ALPHA, UR5E_D  # noqa: E402

OUT = ROOT / "urdf"

# Gripper (flange frame: z points out of the flange, towards the item in a top-down grasp).
PALM = (0.07, 0.035, 0.03)
FINGER = (0.008, 0.02, 0.05)  # x (closing direction), y, z
FINGER_OPEN_HALF_GAP = 0.021
FINGER_TRAVEL = 0.018
CRUCIBLE_RADIUS, CRUCIBLE_HEIGHT, CRUCIBLE_MASS = 0.015, 0.04, 0.025
LINK_RADIUS = (0.06, 0.05, 0.045, 0.04, 0.04, 0.035)


def _inertial(mass: float, size: float = 0.05) -> str:
    inertia = max(mass * size * size / 6.0, 1e-6)
    return (
        f'<inertial><mass value="{mass:g}"/><origin xyz="0 0 0"/>'
        f'<inertia ixx="{inertia:g}" iyy="{inertia:g}" izz="{inertia:g}" ixy="0" ixz="0" iyz="0"/></inertial>'
    )


def _box(
    size: tuple[float, float, float], xyz: tuple[float, float, float] = (0, 0, 0), rgba: str = "0.7 0.7 0.7 1"
) -> str:
    origin = f'<origin xyz="{xyz[0]:g} {xyz[1]:g} {xyz[2]:g}"/>'
    geometry = f'<geometry><box size="{size[0]:g} {size[1]:g} {size[2]:g}"/></geometry>'
    return (
        f'<visual>{origin}{geometry}<material name="c"><color rgba="{rgba}"/></material></visual>'
        f"<collision>{origin}{geometry}</collision>"
    )


def _cylinder(radius: float, length: float, xyz: tuple[float, ...], rpy: tuple[float, ...], rgba: str) -> str:
    origin = f'<origin xyz="{xyz[0]:g} {xyz[1]:g} {xyz[2]:g}" rpy="{rpy[0]:g} {rpy[1]:g} {rpy[2]:g}"/>'
    geometry = f'<geometry><cylinder radius="{radius:g}" length="{length:g}"/></geometry>'
    return (
        f'<visual>{origin}{geometry}<material name="c"><color rgba="{rgba}"/></material></visual>'
        f"<collision>{origin}{geometry}</collision>"
    )


def arm_urdf() -> str:
    """UR5e (DH joints) with a parallel gripper on the flange."""
    parts = ['<?xml version="1.0"?>', '<robot name="ur5e_gripper">']
    parts.append(
        f'<link name="base_link">{_inertial(4.0)}'
        f"{_cylinder(0.075, 0.02, (0, 0, 0.01), (0, 0, 0), '0.3 0.3 0.35 1')}</link>"
    )
    parent = "base_link"
    pre = (0.0, 0.0, 0.0, 0.0)  # (a, d, alpha) of the previous link: where this joint sits
    for i in range(6):
        link = f"link_{i + 1}"
        a, d = float(UR5E_A[i]), float(UR5E_D[i])
        shapes = []
        # Segment of this link from its joint towards the next: Tz(d) then Tx(a) (before Rx(alpha)).
        if abs(d) > 1e-9:
            shapes.append(_cylinder(LINK_RADIUS[i], abs(d), (0, 0, d / 2), (0, 0, 0), "0.55 0.65 0.8 1"))
        if abs(a) > 1e-9:
            shapes.append(_cylinder(LINK_RADIUS[i], abs(a), (a / 2, 0, d), (0, math.pi / 2, 0), "0.55 0.65 0.8 1"))
        parts.append(f'<link name="{link}">{_inertial(1.0)}{"".join(shapes)}</link>')
        pa, pd, palpha = pre[0], pre[1], pre[2]
        parts.append(
            f'<joint name="joint_{i + 1}" type="revolute"><parent link="{parent}"/><child link="{link}"/>'
            f'<origin xyz="{pa:g} 0 {pd:g}" rpy="{palpha:.12g} 0 0"/><axis xyz="0 0 1"/>'
            f'<limit lower="{-2 * math.pi:.6f}" upper="{2 * math.pi:.6f}" effort="150" velocity="3.14"/></joint>'
        )
        parent, pre = link, (a, d, float(UR5E_ALPHA[i]), 0.0)
    a, d, alpha = pre[0], pre[1], pre[2]
    parts.append(f'<link name="flange">{_inertial(0.2)}{_box(PALM, (0, 0, PALM[2] / 2), "0.2 0.2 0.2 1")}</link>')
    parts.append(
        f'<joint name="flange_fixed" type="fixed"><parent link="{parent}"/><child link="flange"/>'
        f'<origin xyz="{a:g} 0 {d:g}" rpy="{alpha:.12g} 0 0"/></joint>'
    )
    for side, sign in (("left", 1.0), ("right", -1.0)):
        x = sign * (FINGER_OPEN_HALF_GAP + FINGER[0] / 2)
        z = PALM[2] + FINGER[2] / 2
        parts.append(
            f'<link name="finger_{side}">{_inertial(0.05, 0.02)}{_box(FINGER, (0, 0, 0), "0.1 0.1 0.1 1")}</link>'
        )
        parts.append(
            f'<joint name="finger_{side}_joint" type="prismatic"><parent link="flange"/><child link="finger_{side}"/>'
            f'<origin xyz="{x:g} 0 {z:g}"/><axis xyz="{-sign:g} 0 0"/>'
            f'<limit lower="0" upper="{FINGER_TRAVEL:g}" effort="40" velocity="0.1"/></joint>'
        )
    parts.append("</robot>")
    return "\n".join(parts) + "\n"


def static_urdf(name: str, boxes: list[tuple[tuple[float, float, float], tuple[float, float, float], str]]) -> str:
    """A fixed body made of boxes (size, centre, colour) in one link."""
    shapes = "".join(_box(size, xyz, rgba) for size, xyz, rgba in boxes)
    return f'<?xml version="1.0"?>\n<robot name="{name}"><link name="base">{_inertial(0.0)}{shapes}</link></robot>\n'


def furnace_urdf() -> str:
    """Box furnace, top-loading: a chamber open at the top and a door (hatch) sliding along y."""
    w, d, h, t = 0.26, 0.16, 0.10, 0.01
    grey = "0.8 0.75 0.7 1"
    walls = "".join(
        _box(size, xyz, grey)
        for size, xyz in [
            ((w, d, t), (0, 0, t / 2)),
            ((t, d, h), (-w / 2 + t / 2, 0, h / 2)),
            ((t, d, h), (w / 2 - t / 2, 0, h / 2)),
            ((w, t, h), (0, -d / 2 + t / 2, h / 2)),
            ((w, t, h), (0, d / 2 - t / 2, h / 2)),
        ]
    )
    door = _box((w, d, 0.012), (0, 0, 0.006), "0.6 0.2 0.1 1")
    return (
        '<?xml version="1.0"?>\n<robot name="box_furnace">'
        f'<link name="base">{_inertial(0.0)}{walls}</link>'
        f'<link name="door">{_inertial(1.0)}{door}</link>'
        f'<joint name="door_joint" type="prismatic"><parent link="base"/><child link="door"/>'
        f'<origin xyz="0 0 {h:g}"/><axis xyz="0 1 0"/>'
        f'<limit lower="0" upper="{d + 0.02:g}" effort="100" velocity="0.1"/></joint>'
        "</robot>\n"
    )


def item_urdf(name: str, radius: float, height: float, mass: float, rgba: str) -> str:
    """A dynamic labware item (cylinder standing on its base; origin at the base centre)."""
    shape = _cylinder(radius, height, (0, 0, height / 2), (0, 0, 0), rgba)
    link = f'<link name="base">{_inertial(mass, radius)}{shape}</link>'
    return f'<?xml version="1.0"?>\n<robot name="{name}">{link}</robot>\n'


def holder_urdf() -> str:
    """A flat XRD sample holder (disc)."""
    return item_urdf("xrd_holder", 0.016, 0.006, 0.01, "0.85 0.85 0.9 1")


def rack_urdf(rows: int, cols: int, pitch: float) -> str:
    """A plate with rows x cols slots at pitch; origin at the plate's top centre."""
    size = (cols * pitch, rows * pitch, 0.01)
    return static_urdf(f"rack_{rows}x{cols}", [(size, (0, 0, -0.005), "0.35 0.35 0.3 1")])


FILES = {
    "ur5e_gripper.urdf": arm_urdf,
    "box_furnace.urdf": furnace_urdf,
    "crucible.urdf": lambda: item_urdf("crucible", CRUCIBLE_RADIUS, CRUCIBLE_HEIGHT, CRUCIBLE_MASS, "0.95 0.93 0.85 1"),
    "vial.urdf": lambda: item_urdf("vial", 0.012, 0.045, 0.015, "0.7 0.9 1.0 0.7"),
    "xrd_holder.urdf": holder_urdf,
    "rack_4x8.urdf": lambda: rack_urdf(4, 8, 0.05),
    "rack_2x4.urdf": lambda: rack_urdf(2, 4, 0.05),
    "rack_1x1.urdf": lambda: rack_urdf(1, 1, 0.06),
    "table.urdf": lambda: static_urdf("table", [((2.6, 1.8, 0.04), (0.45, 0.0, -0.02), "0.9 0.9 0.88 1")]),
    "dosing_station.urdf": lambda: static_urdf(
        "dosing_station",
        [
            ((0.14, 0.14, 0.02), (0, 0, -0.01), "0.4 0.4 0.45 1"),  # balance with its pan on top (z=0)
            ((0.16, 0.04, 0.56), (0, 0.18, 0.28), "0.3 0.3 0.35 1"),  # column of the dosing heads
            ((0.05, 0.14, 0.04), (0, 0.11, 0.52), "0.8 0.5 0.2 1"),  # the active head, above the arm's reach
        ],
    ),
    "mill.urdf": lambda: static_urdf(
        "mill",
        [((0.12, 0.12, 0.02), (0, 0, -0.01), "0.3 0.5 0.3 1"), ((0.22, 0.06, 0.18), (0, 0.11, 0.09), "0.2 0.4 0.2 1")],
    ),
    "diffractometer.urdf": lambda: static_urdf(
        "diffractometer",
        [
            ((0.10, 0.10, 0.02), (0, 0, -0.01), "0.4 0.4 0.6 1"),  # recovery plate (origin at its top)
            ((0.30, 0.25, 0.35), (0, 0.22, 0.175), "0.3 0.3 0.5 1"),  # instrument housing
            ((0.16, 0.06, 0.02), (0, 0.08, 0.01), "0.6 0.6 0.7 1"),  # sample changer magazine
        ],
    ),
}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, build in FILES.items():
        (OUT / name).write_text(build())
    print(f"wrote {len(FILES)} URDF files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
