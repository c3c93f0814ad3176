"""`powderlab record`: record a running lab's topics into an MCAP file (ros2 bag / Foxglove readable)."""

from __future__ import annotations

import argparse
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record the lab's topics into an MCAP file (ros2 bag info/play, Foxglove) until Ctrl-C or --duration",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=None,
        metavar="TOPIC",
        help="topic names or fnmatch patterns, fully qualified (default: status, positions, furnace temperatures, "
        "joint states, camera every 10 s, XRD patterns, /diagnostics, /rosout, campaign progress)",
    )
    parser.add_argument("--output", default=None, help="the MCAP file (default: powderlab-<UTC time>.mcap here)")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many wall seconds (0: Ctrl-C)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from powderlab.nodes import recorder

    if args.duration < 0:
        print(f"powderlab record: --duration must be 0 (until Ctrl-C) or positive, not {args.duration:g}")
        return 2
    output = args.output or time.strftime("powderlab-%Y%m%dT%H%M%SZ.mcap", time.gmtime())
    topics = [t for t in args.topics or () if t.strip()]
    if args.topics is not None and not topics:
        print("powderlab record: --topics needs at least one topic name or pattern")
        return 2
    print(f"powderlab record: writing {output}; Ctrl-C stops it", flush=True)
    # the recorder node process ends this process once its file is closed (summary written)
    return recorder.main(["powderlab-record", *recorder.recorder_arguments(output, topics, args.duration)])
