"""The `raygan` command: run the grid, tune the GANs, write a report, export a GAN's images,
check or fetch the dataset.

    raygan run --profile smoke                 # a complete, tiny sweep in minutes on a CPU
    raygan report --name NAME                  # CIs, paired tests, plots: runs/NAME/report/
    raygan generate --sweep NAME --run train:dcgan-n50-s0 --out DIR   # that cell's fill as PNGs
    raygan data check data/skin-cancer-mvb     # validate a dataset and print its counts

`sweeps/full_grid.py`, `sweeps/tune_gans.py` and `sweeps/report.py` are the same commands as
scripts (`run_main`, `tune_main`, `report_main`). Every user error is one line `error: ...` on
stderr and exit code 2, before Ray starts.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import NoReturn

from raygan.bounds import Number, help_text
from raygan.errors import RayganError
from raygan.options import add_data_options, add_sweep_options, check_resume, classes

RUN_DOC = """Run the grid: every arm x budget x seed; GANs on Ray Train, classifiers on Ray Tune.

    raygan run --profile smoke          # minutes, CPU (= python sweeps/full_grid.py ...)
    raygan run                          # the laptop profile (32 px, N=50/200/500)
    raygan run --profile paper --address auto   # the study's grid, GPU cluster
    raygan run --resume --name laptop-1 --seeds 0,1,2   # add seeds to a finished sweep
    raygan run --classifier resnet20 --gans-from laptop-1   # same GANs, another classifier
"""
TUNE_DOC = """Tune each GAN's batch size and steps with Optuna, per GAN x budget cell, on val AUC.

    raygan tune --profile smoke --num-samples 4 --name tune1
    raygan tune --name tune1 --resume        # continue an interrupted tuning run
    raygan run --gan-configs runs/tune1/best_gan_configs.json   # use the result

Takes the same options as `raygan run`; the cells are its GAN arms x budgets, on its first seed.
"""
REPORT_DOC = """The report of a finished sweep: CIs, paired tests, per-budget conclusions, plots.

    raygan report --name laptop-2026-11-23     # reads MLflow, writes runs/<name>/report/
    raygan report --name overnight-1 --fidelity --cas   # + fidelity, CAS, memorization
    raygan report --name laptop-1 --external-test isic=cards/isic2017.toml   # a new test set

It reads the sweep's classifier runs (per-image test scores) and GAN runs (sample grids) from
MLflow, writes report.md with its plots, and logs them to the sweep's parent run. Every test
set (the test split, each external set) gets its own section. --external-test tests the
sweep's saved classifiers (classifier.pt) on a new set, without retraining.
"""
GENERATE_DOC = """Write a trained GAN's images as PNGs, plus a CSV manifest.

    raygan generate --sweep NAME --run train:dcgan-n50-s0 --count 1000 --out samples/
    raygan generate --checkpoint gan.pt --count 1000 --out samples/   # the file alone
    raygan generate --sweep NAME --run train:dcgan-n50-s0 --pairs 16 --out samples/

The GAN is rebuilt from its run's final checkpoint in MLflow and sampled exactly as the sweep
sampled it: image i of seed s from latent seed (s, i), so the first fill-count images are the
very images the cell's classifier trained on. With --checkpoint, a gan.pt (the artifact of a
train:<gan>-n<budget>-s<seed> run) is rebuilt from the arguments it carries, without MLflow,
config.json or the dataset, and gives the same images; checkpoints written before they carried
them, and CycleGAN's (it translates the sweep's benign images), need --sweep and --run.
--pairs K also writes pairs.png and pairs.csv: the K generated images nearest to one of the
cell's real training images, each beside that image (memorization made visible).
"""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line `error: ...` and exit code 2."""

    def error(self, message: str) -> NoReturn:
        # A value out of bounds (raygan.bounds) reads "--count must be between ...".
        message = re.sub(r"^argument (\S+): must ", r"\1 must ", message)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser(prog: str | None, doc: str) -> Parser:
    return Parser(prog=prog, description=doc, formatter_class=argparse.RawTextHelpFormatter)


# ---- run and tune: the options of a sweep -------------------------------------------------

def build_config(args: argparse.Namespace):
    """The SweepConfig of a profile with the command line's values over it."""
    from raygan.options import sweep_config

    return sweep_config(vars(args))


def run_parser(prog: str | None = None) -> Parser:
    """The options of `raygan run` (and of `python sweeps/full_grid.py`)."""
    p = add_sweep_options(_parser(prog, RUN_DOC))
    p.add_argument("--download", action="store_true",
                   help="download the Kaggle dataset into --data (or ./data/skin-cancer-mvb)\n"
                        "first, when it is missing (needs pip install 'raygan[download]')")
    p.add_argument("--gans-from", metavar="SWEEP",
                   help="copy the finished GAN trainings of SWEEP (same MLflow store) that were\n"
                        "trained with the same GAN settings on the same data, instead of\n"
                        "training them again (e.g. to try another --classifier)")
    return p


def parse_run_args(argv: list[str] | None = None) -> argparse.Namespace:
    return run_parser().parse_args(argv)


def _run(args: argparse.Namespace, rerun: str) -> int:
    from raygan.orchestrate.commands import run_command

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # --gans-from copies
    if args.resume:
        check_resume(vars(args), adds_seeds=True)
    cfg = build_config(args)
    # on --resume, --seeds may add seeds to the sweep's grid; nothing else may change
    more = cfg.seeds if args.resume and args.seeds is not None else ()
    return run_command(cfg, rerun, resume=args.resume, add_seeds=more, download=args.download,
                       dry_run=args.dry_run, verbose=args.verbose)


def tune_parser(prog: str | None = None) -> Parser:
    """The options of `raygan tune` (and of `python sweeps/tune_gans.py`)."""
    p = add_sweep_options(_parser(prog, TUNE_DOC))
    p.add_argument("--num-samples", type=Number("num_samples"), default=8,
                   help=help_text("num_samples", "Optuna trials per cell", 8))
    return p


def _tune(args: argparse.Namespace, rerun: str) -> int:
    from raygan.orchestrate.commands import tune_command

    if args.resume:
        check_resume(vars(args), adds_seeds=False)
    return tune_command(build_config(args), rerun, args.num_samples, resume=args.resume,
                        dry_run=args.dry_run, verbose=args.verbose)


# ---- report and generate: reading a finished sweep back --------------------------------------

def report_parser(prog: str | None = None) -> Parser:
    """The options of `raygan report` (and of `python sweeps/report.py`)."""
    p = _parser(prog, REPORT_DOC)
    p.add_argument("--name", help="the sweep's name (its --name)")
    p.add_argument("--results", metavar="FOLDER",
                   help="rebuild the report from a results folder alone (runs/NAME/results,\n"
                        "or one committed under results/): no MLflow, data or training")
    p.add_argument("--output", default="runs", help="the sweep's --output folder (runs)")
    p.add_argument("--data", help="dataset root, if it moved since the sweep ran")
    p.add_argument("--fidelity", action="store_true",
                   help="also rebuild every generator from its checkpoint and relate fidelity\n"
                        "(domain FD, KID, precision, recall, density, coverage, near-copies)\n"
                        "to test AUC, and draw each run's closest (generated, training) pairs")
    p.add_argument("--fidelity-images", type=Number("fidelity_images"), default=500,
                   help=help_text("fidelity_images", "generated images per GAN for the fidelity "
                                                     "measures", 500))
    p.add_argument("--cas", action="store_true", help="with --fidelity: also the Classification "
                   "Accuracy Score of every GAN run (one classifier training each)")
    p.add_argument("--external-test", action="append", metavar="NAME=DATASET",
                   help="also test the sweep's saved classifiers on DATASET (any source),\n"
                        "without retraining; repeatable. Sets the sweep tested are in the\n"
                        "report without this flag")
    p.add_argument("--keep-external-duplicates", action="store_true", default=None,
                   help="keep the new sets' images that duplicate a training image\n"
                        "(default: as the sweep did; it drops them unless told otherwise)")
    p.add_argument("--exclude-leaks", action="store_true",
                   help="add a section on the test split without its images that re-capture\n"
                        "a training lesion (leakage audit): a sensitivity analysis")
    p.add_argument("--compare", metavar="SWEEP",
                   help="add a section with the primary verdicts of SWEEP (same --output and\n"
                        "test images; e.g. the grid run with another --classifier) beside\n"
                        "this sweep's, cell by cell; with --results, SWEEP is the other\n"
                        "sweep's results folder")
    p.add_argument("--partial", action="store_true",
                   help="report a sweep that has not finished (interrupted, still running, or\n"
                        "with failed runs): the report is titled partial and lists the cells\n"
                        "of the grid without a finished run (without the flag: refused)")
    return p


def _report(args: argparse.Namespace) -> int:
    from raygan.report_stage import ReportRequest, report_results, report_sweep

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    req = ReportRequest(args.name, args.output, data=args.data, fidelity=args.fidelity,
                        fidelity_images=args.fidelity_images, cas=args.cas,
                        external_test=tuple(args.external_test or ()),
                        keep_external_duplicates=args.keep_external_duplicates,
                        exclude_leaks=args.exclude_leaks, compare=args.compare,
                        partial=args.partial)
    paths = report_results(args.results, req) if args.results else report_sweep(req)
    print(f"report: {paths[0]}")
    return 0


def generate_parser(prog: str | None = None) -> Parser:
    """The options of `raygan generate`."""
    p = _parser(prog, GENERATE_DOC)
    p.add_argument("--sweep", help="the sweep's name (its --name)")
    p.add_argument("--run",
                   help="the GAN training, named as in MLflow: train:<gan>-n<budget>-s<seed>")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="a GAN checkpoint (gan.pt) to sample on its own, instead of --sweep/--run")
    p.add_argument("--count", type=Number("count"),
                   help=help_text("count", "images to write (default: the cell's fill, as many "
                                           "as its arm used;\nrequired with --checkpoint)"))
    p.add_argument("--out", required=True, help="folder for the PNGs and manifest.csv")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the images of an earlier generate in --out (the PNGs its\n"
                        "manifest.csv lists, and the manifest); nothing else is removed")
    p.add_argument("--pairs", type=Number("pairs"), metavar="K",
                   help=help_text("pairs", "also write pairs.png and pairs.csv: the K images "
                                           "nearest to one of\nthe cell's real training images, "
                                           "each beside it (needs --sweep/--run)"))
    p.add_argument("--output", default="runs", help="the sweep's --output folder (runs)")
    p.add_argument("--data", help="dataset root, if it moved since the sweep ran")
    return p


def _generate(args: argparse.Namespace) -> int:
    from raygan.generate_stage import generate

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    print(generate(args.out, args.count, checkpoint=args.checkpoint, sweep=args.sweep,
                   run=args.run, output=args.output, data=args.data,
                   overwrite=args.overwrite, pairs=args.pairs))
    return 0


# ---- data ---------------------------------------------------------------------------------

def _data(args: argparse.Namespace) -> int:
    from raygan.data import commands

    if args.data_command == "check":
        lines = commands.check(args.dataset, args.resolution,
                               classes(args.classes) if args.classes is not None else None,
                               args.test_fraction, args.geometry)
    else:
        lines = commands.fetch_into(args.dest, args.archive)
    print("\n".join(lines))
    return 0


def _add_data(sub) -> None:
    from raygan.data.dataset import DEFAULT_ROOT

    data = sub.add_parser("data", help="check or fetch the dataset",
                          description="Check or fetch the dataset (the Kaggle layout).")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="{check,fetch}")
    check = dsub.add_parser("check", help="validate a dataset and print its counts",
                            description="Check the layout, decode every image once (cached) and "
                                        "print the counts per split and class.")
    check.add_argument("dataset", help="dataset root (Kaggle or class-folder layout) or card "
                                       "(.toml), e.g. data/skin-cancer-mvb")
    add_data_options(check, resolution=32)  # read as a sweep reads it, with run's checks
    check.set_defaults(func=_data)
    fetch = dsub.add_parser("fetch", help="download the Kaggle dataset (needs kagglehub)",
                            description="Download the Kaggle dataset with kagglehub (pip install "
                                        "'raygan[download]') into --dest and check it.")
    fetch.add_argument("--dest", default=DEFAULT_ROOT, help=f"where to put it ({DEFAULT_ROOT})")
    fetch.add_argument("--archive", help="install from a downloaded zip or folder instead")
    fetch.set_defaults(func=_data)


# ---- entry points -------------------------------------------------------------------------

def make_parser() -> Parser:
    """The `raygan` command and its subcommands."""
    p = _parser("raygan", __doc__)
    sub = p.add_subparsers(dest="command", required=True,
                           metavar="{run,tune,report,generate,data}", parser_class=Parser)
    commands: list[tuple[str, Callable[..., Parser], str, Callable]] = [
        ("run", run_parser, "run the grid (sweeps/full_grid.py)", lambda a: _run(a, "raygan run")),
        ("tune", tune_parser, "tune the GANs with Optuna (sweeps/tune_gans.py)",
         lambda a: _tune(a, "raygan tune")),
        ("report", report_parser, "write a finished sweep's report (sweeps/report.py)", _report),
        ("generate", generate_parser, "write a trained GAN's images as PNGs", _generate),
    ]
    for name, build, help_, func in commands:
        template = build()
        cmd = sub.add_parser(name, help=help_, description=template.description,
                             formatter_class=argparse.RawTextHelpFormatter,
                             parents=[template], add_help=False)
        cmd.set_defaults(func=func)
    _add_data(sub)
    return p


def _call(parser: Parser, argv: list[str] | None, func: Callable[[argparse.Namespace], int]
          ) -> int:
    """Parse `argv` and run `func`; --help and bad arguments return their exit code, a user
    error (RayganError) is one line `error: ...` and exit code 2."""
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")  # before Ray Train is first imported
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return func(args)
    except RayganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """`raygan ...`: the console script."""
    return _call(make_parser(), argv, lambda args: args.func(args))


def run_main(argv: list[str] | None = None) -> int:
    """`python sweeps/full_grid.py ...`: the same as `raygan run ...`."""
    return _call(run_parser("full_grid.py"), argv,
                 lambda args: _run(args, "python sweeps/full_grid.py"))


def tune_main(argv: list[str] | None = None) -> int:
    """`python sweeps/tune_gans.py ...`: the same as `raygan tune ...`."""
    return _call(tune_parser("tune_gans.py"), argv,
                 lambda args: _tune(args, "python sweeps/tune_gans.py"))


def report_main(argv: list[str] | None = None) -> int:
    """`python sweeps/report.py ...`: the same as `raygan report ...`."""
    return _call(report_parser("report.py"), argv, _report)


if __name__ == "__main__":
    sys.exit(main())
