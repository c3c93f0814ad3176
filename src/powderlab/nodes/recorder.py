"""Recordings: what the lab publishes, into a rosbag2 bag that `ros2 bag` and Foxglove read.

A recording is a bag folder as `ros2 bag record -s mcap -o NAME` writes it (ADR 0108): `NAME/NAME_0.mcap`
and, when the recorder stops, `NAME/metadata.yaml` (rosbag2 metadata version 9), so `ros2 bag info NAME`
and `ros2 bag play NAME` take the folder without flags, and Foxglove opens the .mcap file.

The recorder node subscribes to every topic that matches its patterns (found by graph discovery,
once a wall second, so topics that appear later are recorded too) with raw subscriptions: the CDR
bytes go to the file as they came, nothing is deserialised. The file follows the MCAP `ros2`
profile as rosbag2's MCAP storage plugin writes it (ADR 0093):

- schema: name `pkg/msg/Type`, encoding `ros2msg`, data the .msg text with every nested type
  appended after a line of 80 `=` and `MSG: pkg/Type` (rosbag2's local message definition source);
- channel: message encoding `cdr`, metadata `offered_qos_profiles` (the publishers' QoS, YAML, the
  rosbag2 v9 spelling) and `topic_type_hash` (RIHS01_...);
- log and publish time: the wall time the message arrived (ns since the epoch; message stamps in
  the lab's headers are lab time); zstd-compressed chunks with message indexes and statistics;
- at close, a `rosbag2` metadata record (`serialized_metadata`: the bag's metadata, as rosbag2's
  SequentialWriter stores it in the file) and then metadata.yaml beside the file.

A recorder killed with SIGKILL leaves the folder without metadata.yaml, as a killed `ros2 bag record`
does: `ros2 bag reindex NAME -s mcap` (Jazzy) or `mcap recover` rebuild what was written.

The subscription QoS follows rosbag2's rule: reliable if every publisher is, transient_local if
every publisher is (so latched status topics give their last message at once). Topics may be
throttled by wall time (the camera: one frame in 10 s by default).

`powderlab record` runs this node in the foreground; campaigns run it as a child process of the
autonomy node (RecorderProcess), which stops it with SIGINT, so the file gets its summary.
"""

from __future__ import annotations

import fnmatch
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mcap.writer import CompressionType, Writer
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy

from powderlab.core.errors import PowderLabError
from powderlab.nodes.qos import WALL_CLOCK

# Topic patterns (fnmatch on fully qualified names) of a lab's recording.
DEFAULT_TOPICS = (
    "/diagnostics",
    "/rosout",
    "*/status",
    "/lab/positions",
    "/lab/estop_state",
    "/lab/health",
    "*/joint_states",
    "*/pattern",
    "*/camera/image_raw",
    "/camera/image_raw",
    "*/autonomy/progress",
    "/autonomy/progress",
    "*/autonomy/analysis",
    "/autonomy/analysis",
)
# Wall seconds between two recorded messages of a topic (others are dropped): the camera's images.
DEFAULT_THROTTLE = {"*/image_raw": 10.0}
DISCOVERY_PERIOD_S = 1.0
PRIMITIVE_TYPES = frozenset(
    {"bool", "byte", "char", "float32", "float64", "string", "wstring"}
    | {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
)
SEPARATOR = "=" * 80 + "\n"
STORAGE_ID = "mcap"
METADATA_FILE = "metadata.yaml"
METADATA_VERSION = 9  # rosbag2_storage BagMetadata::version in Jazzy
FIELD_TYPE = re.compile(r"^\s*([A-Za-z0-9_/]+)")

PARAMETERS: dict[str, tuple[Any, str]] = {
    "output": ("recording", "the bag folder to make (NAME/NAME_0.mcap + NAME/metadata.yaml); must not exist"),
    "topics": (",".join(DEFAULT_TOPICS), "comma-separated topic names or fnmatch patterns (fully qualified)"),
    "throttle": (
        ",".join(f"{k}={v:g}" for k, v in DEFAULT_THROTTLE.items()),
        "PATTERN=SECONDS,...: at most one message of a matching topic per so many wall seconds",
    ),
    "duration_s": (0.0, "stop after this many wall seconds (0: until SIGINT)"),
}


class RecordingError(PowderLabError):
    """A recording that cannot be made (an unknown message type, a bad option)."""


def share_dirs() -> list[Path]:
    """Where installed interface packages keep their .msg files: the ament prefixes, then this Python's prefix."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    return [Path(prefix) / "share" for prefix in dict.fromkeys(prefixes)]


def _msg_file(package: str, name: str, roots: Sequence[Path]) -> Path:
    for root in roots:
        path = root / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise RecordingError(
        f"no definition of {package}/msg/{name}: looked for {package}/msg/{name}.msg under "
        f"{', '.join(str(r) for r in roots)}; install the interface package (with its share folder)"
    )


def _dependencies(text: str, package: str) -> list[str]:
    found = set()
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0]
        match = FIELD_TYPE.match(line)
        if not match or len(line.split()) < 2:
            continue
        field_type = match.group(1).split("<=")[0]
        if field_type in PRIMITIVE_TYPES or "=" in line.split()[0]:
            continue
        if "/" not in field_type:
            field_type = f"{package}/{field_type}"
        found.add(field_type.replace("/msg/", "/"))
    return sorted(found)


def message_definition(type_name: str, roots: Sequence[Path] | None = None) -> str:
    """The full ros2msg text of a type (`pkg/msg/Type`), as rosbag2 stores it in an MCAP schema."""
    roots = list(roots) if roots is not None else share_dirs()
    parts = type_name.split("/")
    if len(parts) != 3 or parts[1] != "msg":
        raise RecordingError(f"message type '{type_name}' is not of the form package/msg/Type")
    seen: set[str] = set()

    def text_of(package: str, name: str, depth: int) -> str:
        if depth > 32:
            raise RecordingError(f"message definition of {type_name} nests too deep")
        text = _msg_file(package, name, roots).read_text()
        out = text
        for dependency in _dependencies(text, package):
            if dependency in seen:
                continue
            seen.add(dependency)
            dep_package, dep_name = dependency.split("/")
            out += "\n" + SEPARATOR + f"MSG: {dependency}\n" + text_of(dep_package, dep_name, depth + 1)
        return out

    return text_of(parts[0], parts[2], 0)


def _duration(nanoseconds: int) -> dict[str, int]:
    return {"sec": nanoseconds // 1_000_000_000, "nsec": nanoseconds % 1_000_000_000}


# One table per policy: the policies are IntEnums whose values overlap (KEEP_LAST == RELIABLE == 1).
_HISTORY = {
    HistoryPolicy.SYSTEM_DEFAULT: "system_default",
    HistoryPolicy.KEEP_LAST: "keep_last",
    HistoryPolicy.KEEP_ALL: "keep_all",
}
_RELIABILITY = {
    ReliabilityPolicy.SYSTEM_DEFAULT: "system_default",
    ReliabilityPolicy.RELIABLE: "reliable",
    ReliabilityPolicy.BEST_EFFORT: "best_effort",
}
_DURABILITY = {
    DurabilityPolicy.SYSTEM_DEFAULT: "system_default",
    DurabilityPolicy.TRANSIENT_LOCAL: "transient_local",
    DurabilityPolicy.VOLATILE: "volatile",
}
_LIVELINESS = {
    LivelinessPolicy.SYSTEM_DEFAULT: "system_default",
    LivelinessPolicy.AUTOMATIC: "automatic",
    LivelinessPolicy.MANUAL_BY_TOPIC: "manual_by_topic",
}


def qos_dicts(profiles: Iterable[QoSProfile]) -> list[dict[str, Any]]:
    """offered_qos_profiles as rosbag2 (metadata version 9) encodes them (rosbag2_storage qos.cpp)."""
    return [
        {
            "history": _HISTORY.get(qos.history, "unknown"),
            "depth": qos.depth,
            "reliability": _RELIABILITY.get(qos.reliability, "unknown"),
            "durability": _DURABILITY.get(qos.durability, "unknown"),
            "deadline": _duration(qos.deadline.nanoseconds),
            "lifespan": _duration(qos.lifespan.nanoseconds),
            "liveliness": _LIVELINESS.get(qos.liveliness, "unknown"),
            "liveliness_lease_duration": _duration(qos.liveliness_lease_duration.nanoseconds),
            "avoid_ros_namespace_conventions": bool(qos.avoid_ros_namespace_conventions),
        }
        for qos in profiles
    ]


class _PlainDumper(yaml.SafeDumper):
    """Block YAML without anchors/aliases (a mapping used twice is written twice, as yaml-cpp writes it)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_PlainDumper, default_flow_style=False, sort_keys=False)


def qos_yaml(profiles: Iterable[QoSProfile]) -> str:
    """The channel metadata `offered_qos_profiles`: the version 9 list as YAML text, as rosbag2 writes it."""
    return _yaml(qos_dicts(profiles))


def subscription_qos(offered: Sequence[QoSProfile]) -> QoSProfile:
    """rosbag2's adaptation: reliable / transient_local only if every publisher offers it."""
    reliable = bool(offered) and all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    latched = bool(offered) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def parse_throttle(text: str) -> dict[str, float]:
    """'PATTERN=SECONDS,...' -> {pattern: seconds}."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, _, seconds = item.partition("=")
        try:
            out[pattern] = float(seconds)
        except ValueError:
            raise RecordingError(f"throttle '{item}' is not PATTERN=SECONDS (e.g. */image_raw=10)") from None
    return out


@dataclass
class _Channel:
    channel_id: int
    period_s: float
    last_s: float = -1e18
    count: int = 0


def bag_layout(output: str | Path) -> tuple[Path, Path]:
    """(bag folder, its MCAP file) of an output name, as `ros2 bag record -o NAME` lays them out."""
    folder = Path(output)
    if folder.suffix == ".mcap":
        raise RecordingError(
            f"'{output}' names a file: a recording is a rosbag2 bag folder (NAME/NAME_0.mcap + NAME/metadata.yaml); "
            f"give the folder's name, e.g. '{folder.with_suffix('')}'"
        )
    if not folder.name:
        raise RecordingError(f"'{output}' has no folder name to make the bag in")
    return folder, folder / f"{folder.name}_0.{STORAGE_ID}"


@dataclass
class _Topic:
    name: str
    type_name: str
    qos: list[dict[str, Any]]
    type_hash: str
    count: int = 0


class McapSink:
    """A rosbag2 bag folder with one MCAP file in the ROS 2 profile, written from raw CDR messages
    (thread-safe); close() completes the file's summary and writes metadata.yaml."""

    def __init__(self, output: str | Path) -> None:
        self.folder, self.path = bag_layout(output)
        if self.folder.exists():
            raise RecordingError(
                f"bag folder {self.folder} already exists; rosbag2 never overwrites a bag: pick a new name"
            )
        self.folder.mkdir(parents=True)
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="powderlab-recorder")
        self._schemas: dict[str, int] = {}
        self._topics: dict[int, _Topic] = {}
        self._first_ns: int | None = None
        self._last_ns = 0
        self._lock = threading.Lock()
        self._closed = False

    def add_channel(
        self, topic: str, type_name: str, definition: str, qos: Sequence[QoSProfile], type_hash: str
    ) -> int:
        with self._lock:
            schema_id = self._schemas.get(type_name)
            if schema_id is None:
                schema_id = self._writer.register_schema(type_name, "ros2msg", definition.encode())
                self._schemas[type_name] = schema_id
            offered = qos_dicts(qos)
            metadata = {"offered_qos_profiles": _yaml(offered), "topic_type_hash": type_hash}
            channel_id = self._writer.register_channel(topic, "cdr", schema_id, metadata)
            self._topics[channel_id] = _Topic(topic, type_name, offered, type_hash)
            return channel_id

    def write(self, channel_id: int, data: bytes, time_ns: int, sequence: int) -> None:
        with self._lock:
            if not self._closed:
                self._writer.add_message(channel_id, time_ns, data, time_ns, sequence)
                self._topics[channel_id].count += 1
                self._first_ns = time_ns if self._first_ns is None else min(self._first_ns, time_ns)
                self._last_ns = max(self._last_ns, time_ns)

    def metadata(self) -> dict[str, Any]:
        """The bag's metadata (rosbag2 BagMetadata, version 9, the keys in rosbag2's order)."""
        count = sum(topic.count for topic in self._topics.values())
        start = self._first_ns or 0
        duration = {"nanoseconds": self._last_ns - start if count else 0}
        starting_time = {"nanoseconds_since_epoch": start}
        return {
            "version": METADATA_VERSION,
            "storage_identifier": STORAGE_ID,
            "duration": duration,
            "starting_time": starting_time,
            "message_count": count,
            "topics_with_message_count": [
                {
                    "topic_metadata": {
                        "name": topic.name,
                        "type": topic.type_name,
                        "serialization_format": "cdr",
                        "offered_qos_profiles": topic.qos,
                        "type_description_hash": topic.type_hash,
                    },
                    "message_count": topic.count,
                }
                for topic in self._topics.values()
            ],
            "compression_format": "",  # chunk compression inside the MCAP file, as rosbag2's zstd presets
            "compression_mode": "",
            "relative_file_paths": [self.path.name],
            "files": [
                {"path": self.path.name, "starting_time": starting_time, "duration": duration, "message_count": count}
            ],
            "custom_data": {"recorded_by": "powderlab recorder"},
            "ros_distro": os.environ.get("ROS_DISTRO") or "jazzy",  # the venv's rclpy is Jazzy's
        }

    def close(self) -> None:
        """Finish the MCAP file (rosbag2 metadata record, summary), then write metadata.yaml (atomically)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            metadata = self.metadata()
            self._writer.add_metadata("rosbag2", {"serialized_metadata": _yaml(metadata)})
            self._writer.finish()
            self._file.close()
            partial = self.folder / f".{METADATA_FILE}.partial"
            partial.write_text(_yaml({"rosbag2_bagfile_information": metadata}))
            os.replace(partial, self.folder / METADATA_FILE)


class RecorderNode(Node):
    """Records the lab's topics into one MCAP file until it is stopped (SIGINT) or its duration ends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("recorder", **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.patterns = [p.strip() for p in str(value("topics")).split(",") if p.strip()]
        if not self.patterns:
            raise RecordingError("no topics to record: give topic names or patterns, e.g. /diagnostics,*/status")
        self.throttle = parse_throttle(str(value("throttle")))
        self.sink = McapSink(str(value("output")))
        self.roots = share_dirs()
        self._channels: dict[str, _Channel] = {}
        self._refused: set[str] = set()
        self._started = time.monotonic()
        self._recorded_subscriptions: list[Any] = []
        self.create_timer(DISCOVERY_PERIOD_S, self.discover, clock=WALL_CLOCK)
        duration = float(value("duration_s"))
        if duration > 0:
            self.create_timer(duration, self._time_up, clock=WALL_CLOCK)
        self.get_logger().info(f"recording {', '.join(self.patterns)} into the bag {self.sink.folder}")
        self.discover()

    def wanted(self, topic: str) -> bool:
        """A topic matching a pattern; hidden topics (a part starting with '_', e.g. action status) only by name."""
        if topic in self.patterns:
            return True
        if any(part.startswith("_") for part in topic.split("/")):
            return False
        return any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.patterns)

    def discover(self) -> None:
        """Subscribe to every matching topic not yet recorded."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._channels or topic in self._refused or not self.wanted(topic):
                continue
            if len(types) != 1:
                self._refused.add(topic)
                self.get_logger().warn(f"not recording {topic}: published with several types {types}")
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, type_name: str) -> None:
        publishers = self.get_publishers_info_by_topic(topic)
        if not publishers:
            return  # only subscribers so far: no QoS to match yet
        try:
            message_type = _import_type(type_name)
            definition = message_definition(type_name, self.roots)
        except (RecordingError, ImportError, AttributeError) as error:
            self._refused.add(topic)
            self.get_logger().warn(f"not recording {topic} ({type_name}): {error}")
            return
        offered = [info.qos_profile for info in publishers]
        type_hash = str(publishers[0].topic_type_hash)
        channel_id = self.sink.add_channel(topic, type_name, definition, offered, type_hash)
        period = next((s for p, s in self.throttle.items() if fnmatch.fnmatchcase(topic, p)), 0.0)
        channel = self._channels[topic] = _Channel(channel_id, period)
        self._recorded_subscriptions.append(
            self.create_subscription(
                message_type, topic, lambda data: self._on_message(channel, data), subscription_qos(offered), raw=True
            )
        )

    def _on_message(self, channel: _Channel, data: bytes) -> None:
        now = time.time()
        if channel.period_s > 0 and now - channel.last_s < channel.period_s:
            return
        channel.last_s = now
        channel.count += 1
        self.sink.write(channel.channel_id, data, time.time_ns(), channel.count)

    def counts(self) -> dict[str, int]:
        return {topic: channel.count for topic, channel in self._channels.items()}

    def _time_up(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the same stop as Ctrl-C: spin ends, safe_shutdown closes

    def safe_shutdown(self) -> None:
        """Close the file: its summary (statistics, indexes) is what ros2 bag info reads."""
        self.sink.close()
        total = sum(self.counts().values())
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"recorder: {total} messages on {len(self._channels)} topics in {self.sink.folder} "
            f"(cpu {usage.ru_utime + usage.ru_stime:.2f} s over {time.monotonic() - self._started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )


def _import_type(type_name: str) -> Any:
    package, _, name = type_name.split("/")
    module = __import__(f"{package}.msg", fromlist=[name])
    return getattr(module, name)


def _yaml_string(text: str) -> str:
    """A parameter value rcl reads as this exact string (a bare '*' would be a YAML alias)."""
    return "'" + text.replace("'", "''") + "'"


def recorder_arguments(output: str | Path, topics: Sequence[str] = (), duration_s: float = 0.0) -> list[str]:
    """Command-line arguments of a recorder process (`python -m powderlab.nodes.recorder ...`)."""
    args = ["--ros-args", "-p", f"output:={_yaml_string(str(output))}"]
    if topics:
        args += ["-p", f"topics:={_yaml_string(','.join(topics))}"]
    if duration_s:
        args += ["-p", f"duration_s:={float(duration_s)}"]
    return args


class RecorderProcess:
    """A recorder as a child process: it ends with its parent (even a kill -9 of it) or on stop()."""

    def __init__(
        self,
        output: str | Path,
        topics: Sequence[str] = (),
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.output, _ = bag_layout(output)  # a bad name fails here, in the parent, not in the child
        if self.output.exists():
            raise RecordingError(f"bag folder {self.output} already exists; rosbag2 never overwrites a bag")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "powderlab.nodes.recorder", *recorder_arguments(self.output, topics)]
        self._log = open(log or self.output.with_name(self.output.name + ".log"), "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 (only prctl, before exec)
        )

    def interrupt(self) -> None:
        """SIGINT: the recorder closes its file (with its summary) and ends."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGINT (the file is closed with its summary), then SIGKILL after timeout_s."""
        if self.process.poll() is None:
            self.interrupt()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def _die_with_parent(parent_pid: int) -> Any:
    def setup() -> None:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
        except OSError:
            pass
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def main(args: list[str] | None = None) -> int:
    """The recorder process. Kept light (no station modules: it starts in a second, also next to a
    busy engine): spin until SIGINT/SIGTERM or the duration, close the file first, then end."""
    import faulthandler

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = RecorderNode()
    except PowderLabError as error:
        print(f"recorder: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    except KeyboardInterrupt:
        os._exit(0)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # the SIGINT handler can shut the context down while spin builds its wait set (RCLError "context
        # is not valid"): that is the stop asked for; anything else with the context alive is a failure
        if node.context.ok():
            raise
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the file is closed whatever comes next
        signal.signal(signum, signal.SIG_IGN)
    faulthandler.dump_traceback_later(5.0, exit=True)
    node.safe_shutdown()
    try:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    except Exception as error:  # the file is complete; the process ends either way
        print(f"recorder: while stopping ROS: {error!r}", file=sys.stderr, flush=True)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
