"""A sweep's results rows summed up for its parent run: per arm and budget, the mean and SD
over seeds of the headline metrics, as metric names and as a table. No MLflow inside."""

from __future__ import annotations

from typing import Any

from raygan.cell import ALL

# The sweep's results on its parent run: these per-trial metrics, averaged over seeds, and the
# same on each external set (`ext/<NAME>/auc`, ...).
SUMMARY_METRICS = ("test/auc", "test/acc", "test/balanced_acc")


def arm_slug(arm: str) -> str:
    """An arm as a metric-name part: `gan:dcgan` -> `gan_dcgan`, `classic+gan:dcgan` ->
    `classic-gan_dcgan` (MLflow takes neither ':' in every store nor '+' in metric names)."""
    return arm.replace(":", "_").replace("+", "-")


def _summary_keys(rows: list[dict[str, Any]]) -> list[str]:
    """SUMMARY_METRICS, then their `ext/<NAME>/` equivalents for every external set in `rows`."""
    names = sorted({k.split("/")[1] for r in rows for k in r
                    if k.startswith("ext/") and k.count("/") == 2})
    ends = [m.split("/", 1)[1] for m in SUMMARY_METRICS]
    return [*SUMMARY_METRICS, *(f"ext/{n}/{m}" for n in names for m in ends)]


def summary_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per arm and budget, the mean over seeds of each SUMMARY_METRICS entry of the finished
    trials, as `test_auc.gan_dcgan.n50`, and their SD as `test_auc.gan_dcgan.n50.sd` when more
    than one seed finished; `all-real` has budget `all` (`test_auc.all-real.all`). On an
    external set NAME: `ext_NAME_auc.gan_dcgan.n50`, ..."""
    import numpy as np

    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if not r.get("error"):
            budget = ALL if r["budget"] == ALL else f"n{r['budget']}"
            cells.setdefault((arm_slug(r["arm"]), budget), []).append(r)
    out = {}
    keys = _summary_keys(rows)
    for (arm, budget), rs in sorted(cells.items()):
        for metric in keys:
            values = [float(r[metric]) for r in rs if metric in r]
            if not values:
                continue
            name = f"{metric.replace('/', '_')}.{arm}.{budget}"
            out[name] = float(np.mean(values))
            if len(values) > 1:
                out[f"{name}.sd"] = float(np.std(values, ddof=1))
    return out


def results_table(rows: list[dict[str, Any]]) -> dict[str, list]:
    """One row per arm and budget (finished seeds, mean and SD of SUMMARY_METRICS and their
    external equivalents, failed trials), as the columns MLflow's `log_table` takes."""
    import numpy as np

    cells: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["arm"], r["budget"]), []).append(r)
    cols: dict[str, list] = {"arm": [], "budget": [], "seeds": [], "failed": []}
    keys = _summary_keys(rows)
    for metric in keys:
        cols[metric.replace("/", "_")], cols[metric.replace("/", "_") + "_sd"] = [], []
    for (arm, budget), rs in cells.items():
        ok = [r for r in rs if not r.get("error")]
        cols["arm"].append(arm)
        cols["budget"].append(str(budget))
        cols["seeds"].append(len(ok))
        cols["failed"].append(len(rs) - len(ok))
        for metric in keys:
            values = [float(r[metric]) for r in ok if metric in r]
            key = metric.replace("/", "_")
            cols[key].append(float(np.mean(values)) if values else None)
            cols[key + "_sd"].append(float(np.std(values, ddof=1)) if len(values) > 1 else None)
    return cols
