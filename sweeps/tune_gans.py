"""Tune each GAN's batch size and steps with Optuna, per GAN x budget cell, on validation AUC.

    python sweeps/tune_gans.py --profile smoke --num-samples 4 --name tune1
    python sweeps/tune_gans.py --name tune1 --resume        # continue an interrupted tuning run
    python sweeps/full_grid.py --gan-configs runs/tune1/best_gan_configs.json   # use the result

Takes the same options as full_grid.py; the cells are its GAN arms x budgets, on its first seed.
"""

from __future__ import annotations

import os
import signal
import sys

from full_grid import build_config, make_parser

from raygan.errors import RayganError


def main(argv: list[str] | None = None) -> int:
    p = make_parser(__doc__)
    p.add_argument("--num-samples", type=int, default=8, help="Optuna trials per cell (8)")
    args = p.parse_args(argv)
    prep = None
    try:
        from raygan.orchestrate import prepare
        from raygan.orchestrate.tuning import BEST_FILE, run_tuning

        if args.num_samples < 1:
            raise RayganError(f"--num-samples {args.num_samples} must be at least 1")
        prep = prepare(build_config(args), resume=args.resume)
        if not prep.cfg.gan_names:
            raise RayganError("no GAN arm to tune; name one, e.g. --arms gan:dcgan")
        cells = len(prep.cfg.gan_names) * len(prep.cfg.budgets)
        if args.dry_run:
            print(prep.cfg.to_json())
            print(f"{cells} cells x {args.num_samples} Optuna trials")
            return 0
        run_tuning(prep, args.num_samples)
    except RayganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (raygan.orchestrate.interrupt)
        code = 128 + getattr(exc, "signum", signal.SIGINT)
        if prep is None:
            return code
        print(f"\ninterrupted; continue with: python sweeps/tune_gans.py --resume --name "
              f"{prep.cfg.sweep_name} --output {prep.cfg.output}", file=sys.stderr)
        return code
    print(f"best settings: {prep.out_dir / BEST_FILE}; use them with: python sweeps/full_grid.py"
          f" --gan-configs {prep.out_dir / BEST_FILE}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    sys.exit(main())
