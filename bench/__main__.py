"""`python -m bench`: run every bench_*.py in turn (each writes its own section)."""

import subprocess
import sys
from pathlib import Path

failed = []
for script in sorted(Path(__file__).parent.glob("bench_*.py")):
    print(f"== {script.name}", flush=True)
    if subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], check=False).returncode != 0:
        failed.append(script.name)
if failed:
    print(f"failed: {', '.join(failed)}", file=sys.stderr)
sys.exit(1 if failed else 0)
