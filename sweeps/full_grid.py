"""The main job: every arm x budget x seed, GANs on Ray Train, classifiers on Ray Tune, MLflow runs.

    python sweeps/full_grid.py --profile smoke          # minutes, CPU
    python sweeps/full_grid.py                          # the laptop profile (64 px, N=50/200/500)
    python sweeps/full_grid.py --profile paper --address auto   # the study's grid, GPU cluster
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace

from raygan.config import NAME_RULE, PROFILES, profile_config
from raygan.errors import RayganError


def _items(text: str, flag: str, example: str) -> list[str]:
    """The comma-separated values of `flag`; an empty list is an error, not the profile's."""
    parts = [v.strip() for v in text.split(",") if v.strip()]
    if not parts:
        raise RayganError(f"{flag} {text!r} names nothing; pass e.g. {flag} {example}, or leave "
                          "the flag out for the profile's")
    return parts


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise RayganError(f"{what} {text!r} must be comma-separated integers, e.g. 0,1,2") from None


def _read_gan_configs(path: str) -> dict:
    import json

    try:
        data = json.loads(open(path).read())
    except (OSError, ValueError) as exc:
        raise RayganError(f"cannot read --gan-configs {path}: {exc}; pass the "
                          "best_gan_configs.json that sweeps/tune_gans.py wrote") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RayganError(f"--gan-configs {path} must map '<gan>@<budget>' to settings, e.g. "
                          '{"dcgan@50": {"batch_size": 32, "steps": 600}}')
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return make_parser(__doc__).parse_args(argv)


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options of a sweep (shared with tune_gans.py)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--profile", default="laptop", help=f"preset: {', '.join(PROFILES)} (laptop)")
    p.add_argument("--data", help="dataset root (Kaggle layout); else $RAYGAN_DATA, else "
                                  "./data/skin-cancer-mvb")
    p.add_argument("--resolution", type=int, help="image side in px: 32, 64, 128 or 224")
    p.add_argument("--budgets", help="real malignant images kept, e.g. 50,200,500 ('all' adds the "
                                     "all-real arm)")
    p.add_argument("--arms", help="e.g. real,oversample,classic,gan:dcgan,all-real")
    p.add_argument("--seeds", help="e.g. 0,1,2; each redraws the subset and re-inits every model")
    p.add_argument("--fill-target", type=int, help="malignant count after filling (0 = all real)")
    p.add_argument("--gan-steps", type=int, help="optimizer steps per GAN")
    p.add_argument("--gan-batch-size", type=int, help="GAN batch, summed over DDP workers")
    p.add_argument("--gan-width", type=int, help="channels of the widest GAN layer")
    p.add_argument("--gan-workers", type=int, help="Ray Train DDP workers per GAN")
    p.add_argument("--clf-epochs", type=int, help="classifier epochs (upper bound)")
    p.add_argument("--gan-configs", help="JSON of per-cell GAN settings, e.g. the\n"
                                         "best_gan_configs.json that sweeps/tune_gans.py writes")
    p.add_argument("--exclude-leaks", action="store_true", default=None,
                   help="drop test images that re-capture a training lesion (leakage audit)")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None,
                   help="train on GPUs (default: as the profile says)")
    p.add_argument("--address", help="Ray cluster to join, e.g. auto; else $RAY_ADDRESS, else\n"
                                     "(or with 'local') a new local Ray of the sweep's own")
    p.add_argument("--storage", help="Tune/Train storage_path (shared storage on a cluster)")
    p.add_argument("--output", help="folder for config.json and the results tables (runs)")
    p.add_argument("--experiment", help="MLflow experiment name (raygan)")
    p.add_argument("--name", help="sweep name: MLflow parent run and results sub-folder;\n"
                                  f"{NAME_RULE}")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted sweep --name (its saved config.json holds;\n"
                        "finished runs are kept, unfinished ones run again)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and the "
                                                          "number of trials, then exit")
    return p


def build_config(args: argparse.Namespace):
    cfg = profile_config(args.profile)
    gan, clf = cfg.gan, cfg.classifier
    over = {"data": args.data or "", "resolution": args.resolution, "fill_target": args.fill_target,
            "address": args.address, "storage": args.storage, "output": args.output,
            "experiment": args.experiment, "sweep_name": args.name,
            "exclude_leaks": args.exclude_leaks}
    if args.budgets is not None:
        parts = _items(args.budgets, "--budgets", "50,200,all")
        over["budgets"] = _ints(",".join(b for b in parts if b != "all"), "budgets")
        if "all" in parts and "all-real" not in (args.arms or ",".join(cfg.arms)):
            over["arms"] = (*cfg.arms, "all-real")
    if args.arms is not None:
        over["arms"] = tuple(_items(args.arms, "--arms", "real,gan:dcgan"))
    if args.seeds is not None:
        over["seeds"] = _ints(",".join(_items(args.seeds, "--seeds", "0,1,2")), "seeds")
    gan_flags = {k: v for k, v in {
        "steps": args.gan_steps, "batch_size": args.gan_batch_size, "width": args.gan_width,
        "num_workers": args.gan_workers, "use_gpu": args.gpu}.items() if v is not None}
    gan = replace(gan, **gan_flags)
    # A value given on the command line holds for every family, over the profile's per-family one.
    over["gan_overrides"] = {fam: {k: v for k, v in o.items() if k not in gan_flags}
                             for fam, o in cfg.gan_overrides.items()}
    if args.gan_configs:
        over["gan_overrides"].update(_read_gan_configs(args.gan_configs))
    clf = replace(clf, **{k: v for k, v in {"epochs": args.clf_epochs,
                                             "use_gpu": args.gpu}.items() if v is not None})
    return replace(cfg, gan=gan, classifier=clf, **{k: v for k, v in over.items() if v is not None})


def _shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prep = None
    try:
        from raygan.orchestrate import num_trials, prepare, run_sweep

        prep = prepare(build_config(args), resume=args.resume)
        n_gan, n_clf = num_trials(prep.cfg)
        if args.dry_run:
            print(prep.cfg.to_json())
            print(f"fill target: {prep.fill_target}; trials: {n_gan} GAN trainings, "
                  f"{n_clf} classifier trials; MLflow: {prep.tracking_uri}")
            return 0
        result = run_sweep(prep)
    except RayganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _shutdown_ray()  # a check that failed after Ray started leaves no Ray behind
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (raygan.orchestrate.interrupt)
        code = 128 + getattr(exc, "signum", signal.SIGINT)
        if prep is None:
            return code
        print(f"\ninterrupted; finished runs are in MLflow. Continue with: python "
              f"sweeps/full_grid.py --resume --name {prep.cfg.sweep_name} --output "
              f"{prep.cfg.output}", file=sys.stderr)
        return code
    print()
    print(f"Test accuracy / AUC (mean over seeds), sweep {prep.cfg.sweep_name}:")
    print(result.table_md)
    print(f"results: {result.out_dir}/results.md and results.csv; wall time {result.wall_s:.0f} s")
    print(f"MLflow UI: mlflow ui --backend-store-uri {prep.tracking_uri}")
    return 1 if any(r.get("error") for r in result.rows) else 0


if __name__ == "__main__":
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    sys.exit(main())
