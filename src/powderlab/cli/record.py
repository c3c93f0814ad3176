"""`powderlab record`: record a running lab's topics into a rosbag2 bag folder with one MCAP file (ros2 bag info/play
read the folder, Foxglove the .mcap file; ADR 0108)."""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record the lab's topics into a bag folder (ros2 bag info/play; Foxglove opens its .mcap) "
        "until Ctrl-C or --duration",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=None,
        metavar="TOPIC",
        help="topic names or fnmatch patterns, fully qualified (default: status, positions, furnace temperatures, "
        "joint states, camera every 10 s, XRD patterns, /diagnostics, /rosout, campaign progress)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="the bag folder to make, as ros2 bag record -o: NAME/NAME_0.mcap + NAME/metadata.yaml "
        "(default: powderlab-<UTC time> here)",
    )
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many wall seconds (0: Ctrl-C)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from powderlab.nodes import recorder

    if args.duration < 0:
        print(f"powderlab record: --duration must be 0 (until Ctrl-C) or positive, not {args.duration:g}")
        return 2
    output = args.output or time.strftime("powderlab-%Y%m%dT%H%M%SZ", time.gmtime())
    topics = [t for t in args.topics or () if t.strip()]
    if args.topics is not None and not topics:
        print("powderlab record: --topics needs at least one topic name or pattern")
        return 2
    try:
        folder, mcap_file = recorder.bag_layout(output)
    except recorder.RecordingError as error:
        print(f"powderlab record: {error}")
        return 2
    if folder.exists():
        print(f"powderlab record: {folder} already exists; a bag is never overwritten: give a new --output")
        return 2
    print(f"powderlab record: writing the bag {folder} ({mcap_file.name}, metadata.yaml at the end); Ctrl-C stops it")
    sys.stdout.flush()
    # the recorder node process ends this process once its file is closed (summary written)
    return recorder.main(["powderlab-record", *recorder.recorder_arguments(output, topics, args.duration)])
