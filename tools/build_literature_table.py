"""Build the planner's literature table from the training split of the text-mined dataset.

    .venv/bin/python tools/build_literature_table.py [DATASET.json.xz] [-o OUT]

Reads Kononova et al., Scientific Data 6, 203 (2019) (default:
../shared/datasets/text-mined-solid-state/solid-state_dataset_2019-12-03.json.xz), keeps the
training split only (held-out targets never enter it) and writes
src/powderlab/planner/data/literature.json.gz, deterministic for the same input.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from powderlab.planner.literature_build import (  # noqa: E402
    build_table,
    clean_reactions,
    is_held_out,
    read_raw,
    with_temperature_model,
)

DEFAULT_DATASET = ROOT.parent / "shared/datasets/text-mined-solid-state/solid-state_dataset_2019-12-03.json.xz"
DEFAULT_OUT = ROOT / "src/powderlab/planner/data/literature.json.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("-o", "--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    dataset = Path(args.dataset)
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()
    counts: Counter[str] = Counter()
    reactions = list(clean_reactions(read_raw(dataset), counts))
    training = [r for r in reactions if not is_held_out(r.target)]
    counts["held out (not used)"] = len(reactions) - len(training)
    table = with_temperature_model(build_table(training, source=f"{dataset.name} sha256 {digest}"))
    table["meta"]["filter_counts"] = dict(sorted(counts.items()))
    text = json.dumps(table, separators=(",", ":"), sort_keys=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(
        f"{out}: {table['meta']['targets']} targets, {table['meta']['reactions']} reactions, "
        f"{out.stat().st_size / 1e3:.0f} kB; {dict(counts)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
