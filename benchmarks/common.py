"""Shared helpers: the machine description and the result files behind BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """CPU model, core count and memory of this machine, in one line."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        mem = f"{mem_kb / 1024**2:.0f} GiB"
    except (OSError, StopIteration):
        mem = "? GiB"
    return f"{os.cpu_count()} cores ({model}), {mem}, no GPU"


def save(name: str, command: str, figures: dict, notes: str = "") -> Path:
    """Write one benchmark's figures with date, machine and the command that reproduces them."""
    import torch

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({
        "name": name, "date": dt.date.today().isoformat(), "machine": machine(),
        "torch": torch.__version__, "command": command, "figures": figures, "notes": notes,
    }, indent=1))
    return path
