"""The training loop's quality probe and stop rule, without Ray."""

import numpy as np
import pytest

from raygan.config import GANConfig
from raygan.gans import build_gan, fit_gan
from raygan.gans.train import plateaued


@pytest.mark.parametrize("values, patience, gain, expected", [
    ([5.0, 4.0, 3.0], 2, 0.05, False),  # too few values to judge
    ([5.0, 4.0, 3.0, 2.0], 2, 0.05, False),  # still falling
    ([5.0, 2.0, 2.0, 2.0], 2, 0.05, True),  # flat for 2 probes
    ([5.0, 2.0, 1.97, 2.1], 2, 0.05, True),  # a gain below min_gain is no progress
    ([5.0, 2.0, 1.9, 2.1], 2, 0.05, False),  # a gain of 0.1 is
    ([5.0, 2.0, 3.0, 3.0], 2, 0.05, True),  # getting worse
    ([-0.2, -0.1, -0.1], 2, 0.05, True),  # works below zero (gap under the floor's noise)
    ([5.0, 2.0, 2.0, 2.0], 0, 0.05, False),  # patience 0: never stop
])
def test_plateaued(values, patience, gain, expected):
    assert plateaued(values, patience, gain) is expected


def _real() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)


def _cfg(**over) -> GANConfig:
    base = dict(z_dim=8, width=4, batch_size=4, steps=40, log_every=5, checkpoint_every=100,
                eval_every=5)
    return GANConfig(**{**base, **over})


def test_probe_rows_and_early_stop_with_checkpoint():
    values = iter([3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])  # flat from the 3rd probe on
    # running medians of 3: 3, 2.5, 2, 1, 1, 1: flat for 2 probes at the 6th
    calls, checkpoints = [], []

    def probe(gan):
        calls.append(1)
        return {"quality/gap": next(values)}

    gan = build_gan("dcgan", _cfg(stop_patience=2), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=probe,
                      on_checkpoint=lambda step, h: checkpoints.append(step))
    probed = [row["step"] for row in history if "quality/gap" in row]
    assert probed == [5, 10, 15, 20, 25, 30]
    assert history[-1]["stopped_early"] == 1.0 and history[-1]["step"] == 30
    assert checkpoints == [30]  # the stopping step is checkpointed
    assert len(calls) == 6


def test_no_stop_before_min_steps_or_without_patience():
    flat = {"quality/gap": 1.0}
    gan = build_gan("dcgan", _cfg(stop_patience=1, min_steps=30), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: flat)
    assert history[-1]["step"] == 30 and history[-1]["stopped_early"] == 1.0
    gan = build_gan("dcgan", _cfg(), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: flat)
    assert history[-1]["step"] == 40 and "stopped_early" not in history[-1]


def test_a_flat_run_above_the_gate_trains_on():
    from raygan.eval.quality import GATE_GAP

    assert GANConfig().stop_below == GATE_GAP  # the stop rule and the gate agree by default
    gan = build_gan("dcgan", _cfg(stop_patience=1), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: {"quality/gap": 3.0})
    assert history[-1]["step"] == 40 and "stopped_early" not in history[-1]
    gan = build_gan("dcgan", _cfg(stop_patience=1, stop_below=3.0), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: {"quality/gap": 3.0})
    assert history[-1]["step"] == 10 and history[-1]["stopped_early"] == 1.0


def test_nan_probe_values_never_stop_training():
    gan = build_gan("dcgan", _cfg(stop_patience=1), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: {"quality/gap": float("nan")})
    assert history[-1]["step"] == 40


def test_pggan_stops_only_when_fully_grown():
    gan = build_gan("pggan", _cfg(stop_patience=1, lr=1e-3, beta1=0.0), 32, seed=0)
    history = fit_gan(gan, _real(), seed=0, probe=lambda g: {"quality/gap": 1.0})
    # 4 growth stages over the first 20 of 40 steps: the last one is faded in from step 18 on,
    # so the flat probe at step 20 is the first that may stop it.
    assert history[-1]["step"] == 20 and history[-1]["stopped_early"] == 1.0


def test_smoothing_and_final_quality():
    from raygan.gans.train import final_quality, smoothed

    assert smoothed([3.0, 1.0, 2.0, 9.0, 2.0]) == [3.0, 2.0, 2.0, 2.0, 2.0]
    rows = [{"step": 1}, {"step": 2, "quality/gap": 0.1}, {"step": 3, "quality/gap": 5.0},
            {"step": 4, "quality/gap": float("nan")}, {"step": 5, "quality/gap": 0.3}]
    assert final_quality(rows) == 0.3  # median of 0.1, 5.0, 0.3: one bad probe does not decide
    assert final_quality([{"step": 1, "loss/G": 1.0}]) is None
