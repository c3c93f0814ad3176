"""Build ros2_ws/src/powderlab_interfaces straight into the active virtual environment.

Used by `make setup`. The ROS wheels' exported CMake files name the include folders of the
machine that built them; we rewrite those to this interpreter's before building (see
docs/decisions/0002-ros-from-pypi.md). Skips the build when the sources have not changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ros2_ws" / "src" / "powderlab_interfaces"
FOREIGN_PYTHON_INCLUDE = "/opt/python/cp311-cp311/include/python3.11"
FOREIGN_PREFIX = "/opt/python/cp311-cp311"


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def rewrite_foreign_include_paths(prefix: Path) -> int:
    """Point the wheels' CMake exports at this interpreter's include folders."""
    import numpy

    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = 0
    for cmake_file in (prefix / "share").rglob("*.cmake"):
        text = cmake_file.read_text(errors="surrogateescape")
        if FOREIGN_PREFIX not in text:
            continue
        new = text.replace(FOREIGN_PYTHON_INCLUDE, python_include)
        # The numpy include folder under the foreign prefix: any site-packages/numpy/... path.
        marker = FOREIGN_PREFIX + "/lib/python3.11/site-packages/numpy/"
        while marker in new:
            start = new.index(marker)
            end = start
            while end < len(new) and new[end] not in ';"\n )':
                end += 1
            new = new[:start] + numpy_include + new[end:]
        if new != text:
            cmake_file.write_text(new, errors="surrogateescape")
            changed += 1
    return changed


def main() -> int:
    prefix = Path(sys.prefix)
    if prefix == Path(sys.base_prefix):
        print("build_interfaces: run this with the virtual environment's python", file=sys.stderr)
        return 2
    stamp = prefix / ".powderlab-interfaces.sha256"
    digest = sources_digest()
    if stamp.exists() and stamp.read_text().strip() == digest and "--force" not in sys.argv:
        print("powderlab_interfaces: up to date")
        return 0
    rewritten = rewrite_foreign_include_paths(prefix)
    print(f"powderlab_interfaces: rewrote include paths in {rewritten} CMake files")
    build_dir = prefix / "build" / "powderlab_interfaces"
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix), CMAKE_PREFIX_PATH=str(prefix))
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    commands = [
        [
            "cmake",
            "-S",
            str(PACKAGE),
            "-B",
            str(build_dir),
            f"-DCMAKE_INSTALL_PREFIX={prefix}",
            "-DBUILD_TESTING=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
            # No optimisation: the generated (de)serialisers of small messages gain nothing from -O2,
            # and an unoptimised build of the typesupport takes a minute less of every fresh setup.
            "-DCMAKE_BUILD_TYPE=",
        ],
        ["cmake", "--build", str(build_dir), "-j2"],
        ["cmake", "--install", str(build_dir)],
    ]
    for command in commands:
        result = subprocess.run(
            command, check=False, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if result.returncode != 0:
            print(result.stdout[-6000:], file=sys.stderr)
            print(f"build_interfaces: {' '.join(command[:2])} failed", file=sys.stderr)
            return result.returncode
    stamp.write_text(digest + "\n")
    print(f"powderlab_interfaces: built and installed into {prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
