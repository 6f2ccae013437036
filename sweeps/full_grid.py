"""The main job: every arm x budget x seed, GANs on Ray Train, classifiers on Ray Tune, MLflow runs.

    python sweeps/full_grid.py --profile smoke          # minutes, CPU
    python sweeps/full_grid.py                          # the laptop profile (32 px, N=50/200/500)
    python sweeps/full_grid.py --profile paper --address auto   # the study's grid, GPU cluster

The same as `raygan run ...`; the options live in raygan/cli.py.
"""

import sys

from raygan.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main())
