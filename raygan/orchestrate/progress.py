"""What a sweep prints while it runs: one line per finished trial, named by its cell, with
done/total, elapsed time and an estimate of the rest; Ray's own tables and logs only with -v.

Quiet is made from Ray's own switches (see `quiet_ray`, `tune_verbosity`): Ray's driver logs
errors only, the workers' output is not forwarded to the driver, Tune's tables are off.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ray.tune import Callback

from raygan.cell import Cell


def quiet_ray(verbose: bool) -> dict[str, Any]:
    """The `ray.init` keywords of a quiet run (or, with -v, of Ray's usual chatty one): the
    workers' output stays in Ray's log files (`/tmp/ray/session_latest/logs`)."""
    if verbose:
        logging.getLogger("ray.tune").setLevel(logging.NOTSET)  # as Ray leaves it
        return {"log_to_driver": True, "logging_level": logging.INFO}
    # Tune's newer console output prints an experiment's header even at verbosity 0; its
    # older one is silent there. A trial's failure is in raygan's own line and results table.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    return {"log_to_driver": False, "logging_level": logging.ERROR}


def tune_verbosity(verbose: bool) -> int:
    """`tune.RunConfig(verbose=...)`: Tune's trial tables with -v, none otherwise."""
    return 1 if verbose else 0


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def classifier_label(cell: Cell) -> str:
    """A classifier trial's cell as people read it: `gan:dcgan n=50 seed=0`."""
    return f"{cell.arm} n={cell.budget} seed={cell.seed}"


def gan_label(cell: Cell) -> str:
    """A GAN training's cell as people read it: `train dcgan n=50 seed=0`."""
    return f"train {cell.gan} n={cell.budget} seed={cell.seed}"


def gan_summary(result: dict[str, Any]) -> str:
    """The one-line outcome of a GAN training: its final quality gap and steps trained."""
    if result.get("reused"):
        return "trained before (by this sweep or its --gans-from sweep), images resampled"
    gap = result.get("quality/final_gap")
    parts = [f"gap {gap:.2f}"] if gap is not None else []
    if "steps_trained" in result:
        parts.append(f"{int(result['steps_trained'])} steps")
    return ", ".join(parts) or "done"


def classifier_summary(result: dict[str, Any]) -> str:
    """The one-line outcome of a classifier trial: its test AUC."""
    auc = result.get("test/auc")
    return f"AUC {auc:.2f}" if auc is not None else "done"


class Progress(Callback):
    """A Tune callback that prints one line per finished or failed trial of a stage:
    `gan:dcgan n=50 seed=0: AUC 0.91 (37 s)  [3/8 done, 2 min 10 s elapsed, ~3 min 40 s left]`."""

    def __init__(self, total: int, summary: Callable[[dict[str, Any]], str],
                 label: Callable[[Cell], str] = classifier_label, reusable: int = 0) -> None:
        # Tune pickles its callbacks with the experiment's state: plain data and module-level
        # functions only (no `print` or other callables passed in).
        self.total = total  # trials this stage runs
        self.summary = summary  # the outcome of a finished trial, from its last result
        self.label = label  # the trial's cell, as its line names it
        self.done = 0
        self.reused = 0  # trials done by an earlier run of the sweep (seconds each, no training)
        self.reusable = reusable  # how many of the stage's trials an earlier run did
        self.start = time.monotonic()
        self.began: dict[str, float] = {}  # trial id -> when it started

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        self.began[trial.trial_id] = time.monotonic()

    def _line(self, trial, outcome: str) -> None:
        now = time.monotonic()
        self.done += 1
        self.reused += bool((trial.last_result or {}).get("reused"))
        took = now - self.began.get(trial.trial_id, self.start)
        elapsed = now - self.start
        trained = self.done - self.reused  # the estimate runs on trials that really trained
        to_train = self.total - self.done - max(0, self.reusable - self.reused)
        left = elapsed / trained * to_train if trained else None
        eta = f", ~{_clock(left)} left" if left is not None and self.done < self.total else ""
        print(f"{self.label(Cell(**trial.config['cell']))}: {outcome} ({took:.0f} s)  "
                 f"[{self.done}/{self.total} done, {_clock(elapsed)} elapsed{eta}]", flush=True)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self._line(trial, self.summary(trial.last_result or {}))

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self._line(trial, "FAILED")
