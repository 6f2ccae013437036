"""Image grids: a known layout, pixel for pixel. Budget plots: axes that read at any grid size,
intervals inside the metric's range."""

import io
import itertools

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from raygan.eval.plots import SEED_JITTER, budget_figure, grid_png, image_grid


def test_image_grid_places_each_image_in_its_cell_on_white():
    images = np.stack([np.full((3, 2, 2), v, np.uint8) for v in (10, 20, 30)])
    images[1, 0] = 200  # a red channel that differs from green and blue
    grid = np.asarray(image_grid(images, columns=2, pad=1))
    # 2 columns x 2 rows of 2 px images, 1 px of white between and around them.
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    assert (grid[1:3, 1:3] == 10).all()
    assert (grid[1:3, 4:6] == [200, 20, 20]).all()
    assert (grid[4:6, 1:3] == 30).all()
    assert (grid[4:6, 4:6] == 255).all()  # the empty fourth cell stays white
    border = np.ones(grid.shape[:2], bool)
    for y in (1, 4):
        for x in (1, 4):
            border[y : y + 2, x : x + 2] = False
    assert (grid[border] == 255).all()


def test_grid_png_round_trips():
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    png = Image.open(io.BytesIO(grid_png(images)))
    assert np.array_equal(np.asarray(png), np.asarray(image_grid(images)))


def _rows(budgets, seeds, arms=("real", "oversample", "gan:dcgan"), auc=None):
    """`per_trial`-shaped rows: every arm at every budget and seed, all-real at N = 'all';
    `auc(arm, budget, seed)` sets an AUC, the rest vary smoothly below 1."""
    rows = []
    cells = [(a, b) for a in arms for b in budgets] + [("all-real", "all")]
    for k, (arm, b) in enumerate(cells):
        for s in seeds:
            acc = 0.6 + 0.03 * k + 0.01 * s
            a = auc(arm, b, s) if auc else 0.65 + 0.03 * k + 0.01 * s
            rows.append({"arm": arm, "budget": b, "seed": s, "acc": acc, "auc": a,
                         "acc_lo": acc - 0.05, "acc_hi": acc + 0.05,
                         "auc_lo": a - 0.04, "auc_hi": a + 0.04})
    return rows


def _drawn_y(ax) -> np.ndarray:
    """The y of every interval drawn on `ax`: error bar segments, bands and spans."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.patches import Rectangle

    ys = [seg[:, 1] for c in ax.collections if isinstance(c, LineCollection)
          for seg in c.get_segments()]
    ys += [p.vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection)
           for p in c.get_paths()]
    ys += [np.array([p.get_y(), p.get_y() + p.get_height()]) for p in ax.patches
           if isinstance(p, Rectangle)]
    return np.concatenate(ys)


def _corners(text, renderer) -> np.ndarray:
    """The four corners, in pixels, of a tick label as drawn, rotated or not."""
    box = text.get_window_extent(renderer)  # the axis-aligned box around the rotated text
    angle = text.get_rotation()
    text.set_rotation(0)
    w, h = text.get_window_extent(renderer).size
    text.set_rotation(angle)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return np.array([box.x0, box.y0]) + [(h * s, 0), (w * c + h * s, w * s), (w * c, w * s + h * c),
                                         (0, h * c)]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two rectangles overlap (separating axes: the edge directions of both)."""
    for corners in (a, b):
        for edge in (corners[1] - corners[0], corners[3] - corners[0]):
            pa, pb = a @ edge, b @ edge
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def _no_scientific(labels) -> bool:
    return all(not any(m in t.get_text() for m in ("times", "10^", "e+", "$")) for t in labels)


def test_one_budget_puts_the_arms_side_by_side_on_a_categorical_axis():
    import matplotlib.pyplot as plt

    from raygan.profiles import ALL_ARMS

    arms = [a for a in ALL_ARMS if a != "all-real"]  # the widest grid: nine labels
    fig = budget_figure({"test split": _rows([200], (0, 1, 2), arms)})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert ax.get_xscale() == "linear"
        assert list(ax.get_xticks()) == list(range(len(ALL_ARMS)))
        labels = ax.get_xticklabels()
        assert [t.get_text() for t in labels] == list(ALL_ARMS)
        assert _no_scientific(labels) and not any(t.get_text() for t in ax.get_xticklabels(
            minor=True))
        boxes = [_corners(t, renderer) for t in labels]
        assert not any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))
        assert "N = 200" in ax.get_xlabel()
        # One error bar per arm, at the arm's own position; its seeds spread narrowly around it.
        bars = [c for c in ax.containers if c.has_yerr]
        assert [c.lines[0].get_xdata()[0] for c in bars] == list(range(len(ALL_ARMS)))
        dots = [c.get_offsets() for c in ax.collections if c.get_offsets().shape[0] == 3]
        assert len(dots) == len(ALL_ARMS)
        for x, d in enumerate(dots):
            assert np.all(np.abs(d[:, 0] - x) <= SEED_JITTER + 1e-9) and len(set(d[:, 0])) == 3
    plt.close(fig)


def test_intervals_are_clipped_to_the_metric_range():
    import matplotlib.pyplot as plt

    spread = {0: 0.99, 1: 0.93, 2: 1.0}  # a 95% t-interval of their mean reaches 1.067
    mean, sd = np.mean(list(spread.values())), np.std(list(spread.values()), ddof=1)
    assert mean + stats.t.ppf(0.975, 2) * sd / np.sqrt(3) > 1.05

    def auc(arm, b, s):
        return spread[s] if arm == "gan:dcgan" else 0.8 + 0.01 * s

    for budgets in ([200], [50, 200, 500]):
        fig = budget_figure({"test split": _rows(budgets, (0, 1, 2), auc=auc)})
        auc_ax = fig.axes[1]
        y = _drawn_y(auc_ax)
        assert y.min() >= 0 and y.max() == 1.0  # cut at 1, not dropped
        assert all("clipped to [0, 1]" in ax.get_title() for ax in fig.axes)
        plt.close(fig)
    # One seed: the run's own DeLong interval, which passes 1 near a perfect AUC.
    fig = budget_figure({"test split": _rows([200], (0,), auc=lambda a, b, s: 0.985)})
    assert _drawn_y(fig.axes[1]).max() == 1.0
    plt.close(fig)


@pytest.mark.parametrize("budgets", [(50, 200, 500), (100, 200)])
def test_several_budgets_keep_a_log_axis_with_plain_ticks(budgets):
    import matplotlib.pyplot as plt

    fig = budget_figure({"test split": _rows(list(budgets), (0, 1, 2))})
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(b) for b in budgets]
        assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
        # all-real has no N: a horizontal reference at its mean, not a point on the N axis.
        ref = [ln for ln in ax.get_lines() if ln.get_label() == "all-real (N = all)"]
        assert len(ref) == 1 and np.ptp(ref[0].get_ydata()) == 0
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["real", "oversample", "gan:dcgan", "all-real (N = all)"]
    plt.close(fig)
