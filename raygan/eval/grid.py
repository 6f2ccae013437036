"""A sweep's grid against its finished runs: what tells a report's absent cell apart as a
design choice (not in the sweep's grid, config.json) or a partial sweep (in the grid, with no
finished run: interrupted, still running, or failed).

The report of a sweep with unfinished cells is refused unless asked for (`report --partial`);
a partial report says so in its title and lists the missing cells near the top, and its
results folder carries the same status: `report --results` derives it again from the folder's
config.json, trials and gates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from raygan.cell import gan_cells, grid_cells
from raygan.eval.verdicts import is_generative

SHOWN = 5  # missing cells named in a one-line refusal


@dataclass(frozen=True)
class GridStatus:
    """A sweep's grid and which of its cells have no finished run."""

    arms: tuple[str, ...]  # the grid's arms (config.json), in grid order
    cells: tuple[str, ...]  # run names of the grid: its GAN trainings, then its classifier cells
    missing: tuple[str, ...] = ()  # those with no finished run, in the same order

    @classmethod
    def of(cls, cfg: Any, finished: Iterable[str]) -> GridStatus:
        """The grid of SweepConfig `cfg` against the run names that finished."""
        cells = ([c.gan_run_name for c in gan_cells(cfg)]
                 + [c.run_name for c in grid_cells(cfg)])
        done = set(finished)
        return cls(tuple(cfg.arms), tuple(cells), tuple(c for c in cells if c not in done))

    @property
    def partial(self) -> bool:
        """Whether some cell of the grid has no finished run."""
        return bool(self.missing)

    def headline(self) -> str:
        """`Partial report: 7 of 36 cells missing` (the title of a partial report)."""
        return f"Partial report: {len(self.missing)} of {len(self.cells)} cells missing"

    def refusal(self, sweep: str, output: str = "runs", holder: str = "") -> str:
        """The one line that refuses the report of an unfinished sweep; `holder` names the
        process whose lock says the sweep may still be running."""
        shown = ", ".join(self.missing[:SHOWN])
        more = f" and {len(self.missing) - SHOWN} more" if len(self.missing) > SHOWN else ""
        where = "" if output == "runs" else f" --output {output}"
        finish = (f"it may still be running ({holder} holds its lock): wait for it to end, or "
                  if holder else "finish it with raygan run --resume --name "
                  f"{sweep}{where}, or ")
        return (f"sweep {sweep!r} has not finished: {len(self.missing)} of {len(self.cells)} "
                f"cells of its grid have no finished run ({shown}{more}); {finish}pass "
                "--partial to report the finished runs")

    def missing_section(self, sweep: str) -> list[str]:
        """The markdown section, near the top of a partial report, that lists its missing
        cells."""
        gans = [c for c in self.missing if c.startswith("train:")]
        trials = [c for c in self.missing if not c.startswith("train:")]
        md = ["## Missing cells", "",
              f"{len(self.missing)} of the {len(self.cells)} cells of the sweep's grid "
              "(config.json) have no finished run: the sweep was interrupted, is still running, "
              "or these runs failed. They are missing from every table, comparison and verdict "
              "below; a comparison absent here may be one of them, not a design choice. Finish "
              f"the sweep with `raygan run --resume --name {sweep}` and report it again.", ""]
        if gans:
            md += [f"- GAN trainings ({len(gans)}): {', '.join(f'`{c}`' for c in gans)}"]
        if trials:
            md += [f"- classifier cells ({len(trials)}): {', '.join(f'`{c}`' for c in trials)}"]
        return [*md, ""]

    def why_no_comparison(self, trials: list, ref: str, metric: str = "auc") -> str:
        """Why no generative arm is compared with `ref` among `trials`: the sweep's design
        (an arm not in its grid) or a partial sweep (an arm in its grid, not finished)."""
        arms = {t.arm for t in trials}
        generative = [a for a in self.arms if is_generative(a)]
        if ref not in self.arms:
            return (f"the sweep's grid has no `{ref}` arm (its design: such a grid declares "
                    f"e.g. `--primary {metric}:real`)")
        if not generative:
            return "the sweep's grid has no generative arm (its design)"
        if ref not in arms:
            return (f"the grid's `{ref}` arm has no finished cell yet (a partial report: see "
                    "Missing cells)")
        if not arms & set(generative):
            return (f"the grid's generative arms ({', '.join(generative)}) have no finished "
                    "cell yet (a partial report: see Missing cells)")
        return (f"no finished generative cell has a finished `{ref}` cell at its budget and "
                "seed (a partial report: see Missing cells)")


def unknown_grid_reason(trials: list, ref: str) -> str:
    """Why no generative arm is compared with `ref`, when the sweep's grid is not known (a
    report of trials alone): which of the two the trials lack."""
    arms = {t.arm for t in trials}
    lacking = [f"`{ref}` trial"] * (ref not in arms) + ["generative trial"] * (
        not any(is_generative(a) for a in arms))
    if lacking:
        return f"the trials reported hold no {' and no '.join(lacking)}"
    return f"no generative trial has a `{ref}` trial at its budget and seed"
