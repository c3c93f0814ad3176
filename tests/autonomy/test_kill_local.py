"""`powderlab campaign --lab local` killed with SIGKILL at random moments, then run again.

Each second run either finishes with the outcome of an uninterrupted run (same targets made, same
experiments and samples, nothing lost or repeated), or refuses at once, naming why: the
in-process lab that held the campaign's crucibles ended with the killed process. The kill
moments (uniform over an uninterrupted run's wall time, counted from the start of the process or,
every other time, from the moment the campaign exists) are drawn from a seed printed with the
result (POWDERLAB_KILL_SEED to replay one).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

KILLS = 20


def command(directory: Path) -> list[str]:
    return [
        sys.executable, "-m", "powderlab", "campaign", "--lab", "local", "--seed", "3",
        "--database", str(directory / "campaign.sqlite"), "--report", str(directory / "report"),
        "--no-plots", "--json", "--planner", "fixed", "--analyzer", "standin",
    ]  # fmt: skip


def campaign_exists(database: Path) -> bool:
    """The campaign row is in the database (read-only: the writer is not disturbed)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1)) as conn:
            return conn.execute("select count(*) from campaigns").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def records(database: Path) -> tuple[int, ...]:
    """How many rows each table of the campaign's records holds (0s: no database)."""
    if not database.exists():
        return ()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' order by name")]
        return tuple(conn.execute(f"select count(*) from {table}").fetchone()[0] for table in tables)


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    """What must not differ between an interrupted-and-resumed run and an uninterrupted one."""
    return {
        "status": summary["status"],
        "targets_made": summary["targets_made"],
        "experiments": summary["experiments"],
        "samples": summary["samples"],
        "samples_failed": summary["samples_failed"],
        "operations": summary["operations"],
        "attempts": [
            [(a["recipe_id"], a["status"], round(a["yield"] or 0.0, 6)) for a in t["attempts"]]
            for t in summary["targets"]
        ],
    }


# 20 runs of about 1.5 s (and as many again) on an idle machine; several times that under load
@pytest.mark.timeout(1800)
def test_sigkill_at_random_moments_then_run_again(tmp_path: Path) -> None:
    seed = int(os.environ.get("POWDERLAB_KILL_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    print(f"POWDERLAB_KILL_SEED={seed}")
    started = time.monotonic()
    reference = subprocess.run(command(tmp_path / "whole"), capture_output=True, text=True, timeout=300, check=False)
    whole_s = time.monotonic() - started
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = outcome(json.loads(reference.stdout))
    results = []
    for index in range(KILLS):
        directory = tmp_path / f"kill{index}"
        moment = rng.uniform(0.0, whole_s)
        first = subprocess.Popen(command(directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if index % 2:  # every other kill counts from when the campaign exists (process start-up excluded)
            while not campaign_exists(directory / "campaign.sqlite") and first.poll() is None:
                time.sleep(0.02)
        try:
            first.wait(timeout=moment)
            ended_first = True  # it finished before the kill
        except subprocess.TimeoutExpired:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            ended_first = False
        before = records(directory / "campaign.sqlite")
        again = subprocess.run(command(directory), capture_output=True, text=True, timeout=300, check=False)
        where = f"seed {seed}, kill {index} after {moment:.2f} s (an uninterrupted run took {whole_s:.1f} s)"
        if again.returncode == 0:
            assert outcome(json.loads(again.stdout)) == expected, where
            results.append("finished" if ended_first else "same outcome")
        else:
            assert again.returncode == 2, (where, again.returncode, again.stderr[-3000:])
            assert "was interrupted" in again.stderr and "cannot be resumed" in again.stderr, (where, again.stderr)
            # at once: before any lab work, nothing written
            assert records(directory / "campaign.sqlite") == before, where
            assert not (directory / "report" / "campaign.json").exists(), where
            results.append("refused")
    print(f"POWDERLAB_KILL_SEED={seed}: {results}")
    assert "refused" in results or "same outcome" in results, "no kill landed while the campaign ran"
