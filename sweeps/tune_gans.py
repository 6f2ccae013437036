"""Tune each GAN's batch size and steps with Optuna, per GAN x budget cell, on validation AUC.

    python sweeps/tune_gans.py --profile smoke --num-samples 4 --name tune1
    python sweeps/tune_gans.py --name tune1 --resume        # continue an interrupted tuning run
    python sweeps/full_grid.py --gan-configs runs/tune1/best_gan_configs.json   # use the result

The same as `raygan tune ...`; the options live in raygan/cli.py.
"""

import sys

from raygan.cli import tune_main

if __name__ == "__main__":
    sys.exit(tune_main())
