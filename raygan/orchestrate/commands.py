"""`raygan run` and `raygan tune` once their arguments are parsed: check, dry-run or run, stop
Ray, print the results; Ctrl-C or SIGTERM ends in the hint that resumes. Each returns the exit
code; a user error is a RayganError, with Ray already shut down."""

from __future__ import annotations

import errno
import os
import shlex
import signal
import sys
from typing import NoReturn

import ray

from raygan.artifacts import BEST_FILE
from raygan.config import SweepConfig
from raygan.errors import RayganError
from raygan.orchestrate.interrupt import calm
from raygan.orchestrate.sweep import Prepared, num_trials, prepare, run_sweep
from raygan.orchestrate.tuning import run_tuning


def shutdown_ray() -> None:
    """Stop the Ray that this process started or joined, if any."""
    if ray.is_initialized():
        ray.shutdown()


def resume_hint(prep: Prepared, rerun: str) -> str:
    """The command that continues the sweep of `prep` from any working directory: its folder
    absolute, and its MLflow store when the user named one (a resume finds it in config.json
    as well, unless MLFLOW_TRACKING_URI then names another)."""
    store = (f"MLFLOW_TRACKING_URI={shlex.quote(prep.tracking_uri)} "
             if os.environ.get("MLFLOW_TRACKING_URI") else "")
    return (f"{store}{rerun} --resume --name {prep.cfg.sweep_name} "
            f"--output {shlex.quote(str(prep.out_dir.parent))}")


def _interrupted(exc: KeyboardInterrupt, prep: Prepared | None, rerun: str, what: str) -> int:
    """Exit code of a sweep or tuning stopped by Ctrl-C or SIGTERM, after Ray is stopped and
    the resume hint printed; a further Ctrl-C or SIGTERM meanwhile is waited out."""
    code = 128 + getattr(exc, "signum", signal.SIGINT)
    try:
        shutdown_ray()
        if prep is not None:
            print(f"\ninterrupted{what} {resume_hint(prep, rerun)}", file=sys.stderr)
    finally:
        calm()
    return code


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the disk or the quota is full, as an OSError or
    as sqlite's "database or disk is full" inside MLflow."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return True
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(exc: BaseException, prep: Prepared, rerun: str) -> RayganError:
    """The one line for a sweep that a full disk stopped: what failed, and how to continue."""
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
    return RayganError(f"the disk is full{where}: {str(exc).splitlines()[0][:200]}; finished "
                       f"runs are kept: free space, then continue with: "
                       f"{resume_hint(prep, rerun)}")


def _raise_stopped(exc: Exception, prep: Prepared | None, rerun: str) -> NoReturn:
    """Re-raise what stopped a sweep or tuning: a user error (a check that failed after Ray
    started) with Ray stopped, a full disk as its one line with the resume hint, anything else
    as it is."""
    if isinstance(exc, RayganError):
        shutdown_ray()  # a check that failed after Ray started leaves no Ray behind
        raise exc
    if prep is None or not disk_full(exc):
        raise exc
    shutdown_ray()
    raise disk_full_error(exc, prep, rerun) from None


def run_command(cfg: SweepConfig, rerun: str, *, resume: bool = False,
                add_seeds: tuple[int, ...] = (), download: bool = False, dry_run: bool = False,
                verbose: bool = False) -> int:
    """`raygan run`: the sweep of `cfg` (or, with `resume`, of its saved config plus
    `add_seeds`); `download` fetches a missing dataset first; `dry_run` prints the resolved
    config and the number of trials. `rerun` is the command that continues it after Ctrl-C.
    Exit code 1 if any trial failed."""
    prep = None
    try:
        if download and not resume:
            from raygan.data.commands import download_if_missing

            download_if_missing(cfg.data)
        prep = prepare(cfg, resume=resume, add_seeds=add_seeds)
        n_gan, n_clf = num_trials(prep.cfg)
        if dry_run:
            print(prep.cfg.to_json())
            print(f"fill target: {prep.fill_target}; trials: {n_gan} GAN trainings, "
                  f"{n_clf} classifier trials; MLflow: {prep.tracking_uri}")
            return 0
        result = run_sweep(prep, verbose=verbose)
        shutdown_ray()  # whatever Ray says as it stops comes before the results, not after
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (raygan.orchestrate.interrupt)
        return _interrupted(exc, prep, rerun, "; finished runs are in MLflow. Continue with:")
    except Exception as exc:
        _raise_stopped(exc, prep, rerun)
    print()
    print(f"Test accuracy / AUC (mean over seeds), sweep {prep.cfg.sweep_name}:")
    print(result.table_md)
    print(f"results: {result.out_dir}/results.md and results.csv; wall time {result.wall_s:.0f} s")
    print(f"MLflow UI: mlflow ui --backend-store-uri {prep.tracking_uri}")
    failed = sum(bool(r.get("error")) for r in result.rows)
    if failed:
        print(f"{failed} trial{'s' if failed > 1 else ''} failed (see the results table); once "
              f"fixed, run {'them' if failed > 1 else 'it'} again with: "
              f"{resume_hint(prep, rerun)}", file=sys.stderr)
    return 1 if failed else 0


def tune_command(cfg: SweepConfig, rerun: str, num_samples: int, *, resume: bool = False,
                 dry_run: bool = False, verbose: bool = False) -> int:
    """`raygan tune`: `num_samples` Optuna trials per GAN x budget cell of `cfg` (or, with
    `resume`, of the run's saved config); `dry_run` prints the config and the trial count.
    `rerun` is the command that continues it after Ctrl-C."""
    prep = None
    try:
        if num_samples < 1:
            raise RayganError(f"--num-samples {num_samples} must be at least 1")
        prep = prepare(cfg, resume=resume)
        if not prep.cfg.gan_names:
            raise RayganError("no GAN arm to tune; name one, e.g. --arms gan:dcgan")
        cells = len(prep.cfg.gan_names) * len(prep.cfg.budgets)
        if dry_run:
            print(prep.cfg.to_json())
            print(f"{cells} cells x {num_samples} Optuna trials")
            return 0
        run_tuning(prep, num_samples, verbose=verbose)
        shutdown_ray()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (raygan.orchestrate.interrupt)
        return _interrupted(exc, prep, rerun, "; continue with:")
    except Exception as exc:
        _raise_stopped(exc, prep, rerun)
    print(f"best settings: {prep.out_dir / BEST_FILE}; use them with: raygan run --gan-configs "
          f"{prep.out_dir / BEST_FILE}")
    return 0
