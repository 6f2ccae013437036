"""The report of a finished sweep: CIs, paired tests, per-budget conclusions, plots, samples.

    python sweeps/report.py --name laptop-2026-11-23     # reads MLflow, writes runs/<name>/report/
    python sweeps/report.py --name overnight-1 --fidelity --cas   # + fidelity, CAS, near-copies
    python sweeps/report.py --name laptop-1 --external-test isic=CARD   # + a new test set

The same as `raygan report ...`; the options live in raygan/cli.py.
"""

import sys

from raygan.cli import report_main

if __name__ == "__main__":
    sys.exit(report_main())
