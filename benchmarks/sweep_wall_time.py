"""End-to-end wall time of a sweep profile, with the sweep's own stage breakdown.

    RAYGAN_DATA=/path/to/skin-cancer-mvb python benchmarks/sweep_wall_time.py --profile smoke
    python benchmarks/sweep_wall_time.py --profile laptop --log laptop.log  # a run made before

The sweep runs in a temporary folder (its own MLflow store); with --log, the figures are read
from the output of a `full_grid.py` run instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, save  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "sweeps" / "full_grid.py"


def parse(output: str) -> dict:
    """Stage times and trial counts that full_grid.py prints."""
    out: dict = {}
    m = re.search(r"stage times: (.*)", output)
    if m:
        for part in m.group(1).split(", "):
            name, value, _ = part.rsplit(" ", 2)
            out[f"{name}_s"] = float(value)
    m = re.search(r"wall time (\d+) s", output)
    if m:
        out["sweep_s"] = float(m.group(1))
    m = re.search(r"stage 1/2: (\d+) GAN", output)
    if m:
        out["gan_trainings"] = int(m.group(1))
    m = re.search(r"stage 2/2: (\d+) classifier", output)
    if m:
        out["classifier_trials"] = int(m.group(1))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--profile", default="smoke")
    p.add_argument("--log", help="read a finished run's output instead of running one")
    p.add_argument("--note", default="", help="what else ran on the machine, if anything")
    p.add_argument("--wall-s", type=float, help="process wall time of that run, if known")
    args = p.parse_args()
    if args.log:
        text = Path(args.log).read_text()
        figures = parse(text)
        m = re.search(r"^real ([\d.]+)$", text, re.M)  # /usr/bin/time -f "real %e"
        wall = args.wall_s or (float(m.group(1)) if m else None)
        command = f"python sweeps/full_grid.py --profile {args.profile}"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, str(SCRIPT), "--profile", args.profile,
                                   "--output", f"{tmp}/runs", "--name", "bench"], cwd=tmp,
                                  env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"the sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
        figures = parse(proc.stdout)
        # ru_maxrss of reaped descendants: the largest single process among the driver and the
        # Ray processes it started and reaped (Linux reports KiB).
        figures["peak_rss_largest_process_mib"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        command = f"python sweeps/full_grid.py --profile {args.profile}"
    if wall is not None:
        figures["process_wall_s"] = round(wall, 1)
    path = RESULTS / "sweep_wall_time.json"
    profiles = json.loads(path.read_text())["figures"] if path.exists() else {}
    profiles[args.profile] = {"command": command, **figures,
                              **({"note": args.note} if args.note else {})}
    save("sweep_wall_time", "python benchmarks/sweep_wall_time.py --profile <profile>", profiles)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
