"""The report of a finished sweep: CIs, paired tests, per-budget conclusions, plots, samples.

    python sweeps/report.py --name laptop-2026-11-23     # reads MLflow, writes runs/<name>/report/
    python sweeps/report.py --name overnight-1 --fidelity --cas   # + fidelity, CAS, near-copies

It reads the sweep's classifier runs (per-image test scores) and GAN runs (sample grids) from
MLflow, writes report.md with its plots, and logs them to the sweep's parent run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from raygan.errors import RayganError

# The fidelity section's feature extractor, trained on the first --fidelity report of a sweep
# and reused by every later one, so that the distances of two reports of one sweep agree.
EXTRACTOR_FILE = "fidelity_extractor.pt"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--name", required=True, help="the sweep's name (its --name)")
    p.add_argument("--output", default="runs", help="the sweep's --output folder (runs)")
    p.add_argument("--data", help="dataset root, if it moved since the sweep ran")
    p.add_argument("--fidelity", action="store_true", help="also rebuild every GAN from its "
                   "checkpoint and relate fidelity (domain FD, KID, near-copies) to test AUC")
    p.add_argument("--fidelity-images", type=int, default=500,
                   help="generated images per GAN for the fidelity measures (500)")
    p.add_argument("--cas", action="store_true", help="with --fidelity: also the Classification "
                   "Accuracy Score of every GAN run (one classifier training each)")
    args = p.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        from raygan import tracking
        from raygan.config import check_name, load_config
        from raygan.data.dataset import digest_of_test, fingerprint_changes
        from raygan.data.sources import load_source
        from raygan.eval.leakage import without_leaks
        from raygan.eval.report import check_paired, write_report

        if args.cas and not args.fidelity:
            raise RayganError("--cas is part of the fidelity section: add --fidelity")
        if args.fidelity_images < 1:
            raise RayganError(f"--fidelity-images must be at least 1, got {args.fidelity_images}")
        check_name(args.name)
        folder = Path(args.output).resolve() / args.name
        if not (folder / "config.json").is_file():
            raise RayganError(f"no sweep {args.name!r} in {folder.parent} (config.json missing); "
                              "check --name and --output")
        cfg = load_config(folder / "config.json")
        uri = tracking.resolve_uri()
        dataset = load_source(args.data or cfg.data, cfg.resolution, cfg.classes or None,
                              cfg.test_fraction, cfg.split_seed)
        changed, _ = fingerprint_changes(cfg.data_fingerprint or dataset.fingerprint,
                                         dataset.fingerprint)
        if changed:
            raise RayganError(f"{dataset.root} is not the data sweep {args.name!r} ran on: "
                              f"{'; '.join(changed)}; pass the sweep's data with --data")
        if cfg.exclude_leaks:  # the sweep tested without them: so must its report
            dataset, _ = without_leaks(dataset)
        y = dataset.test.y
        trials, grids = tracking.sweep_results(uri, cfg.experiment, args.name,
                                               digest_of_test(dataset.fingerprint))
        if not trials:
            raise RayganError(f"sweep {args.name!r} has no finished classifier runs in {uri}")
        check_paired(trials, y)  # before the fidelity section pairs them too
        fidelity = None
        if args.fidelity:
            import tempfile

            from raygan.fidelity_stage import sweep_fidelity

            with tempfile.TemporaryDirectory() as tmp:
                ckpts = tracking.gan_checkpoints(uri, cfg.experiment, args.name, tmp)
                fidelity = sweep_fidelity(cfg, dataset, ckpts, trials, y, args.fidelity_images,
                                          with_cas=args.cas, log=lambda m: print(m, flush=True),
                                          extractor_file=folder / EXTRACTOR_FILE)
        gates, curves = tracking.sweep_gates(uri, cfg.experiment, args.name)
        verdicts = {(g["arm"], g["budget"], g["seed"]): g["converged"] for g in gates}
        for row in fidelity or []:
            row["converged"] = verdicts.get((row["arm"], row["budget"], row["seed"]), "unknown")
        paths = write_report(trials, y, folder / "report", args.name, grids, fidelity=fidelity,
                             gates=gates, curves=curves)
        tracking.log_files(uri, cfg.experiment, args.name, paths, "report")
    except RayganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
