"""Every generated-fill arm in the verdicts, whatever kind of model made its images: the
diffusion arm (`diffusion:ddpm`) beside the GAN arms in the primary family, its `classic+` arm
in the exploratory one, and in the report's notes on the fills."""

import numpy as np

from raygan.cell import Cell, Trial
from raygan.eval.markdown import unseen_note
from raygan.eval.verdicts import Primary, is_generative, primary_family, secondary_families

N = 300


def _scores(y: np.ndarray, signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, len(y)))))


def _trials(y: np.ndarray) -> list[Trial]:
    signal = {"real": 0.3, "oversample": 0.35, "gan:dcgan": 0.4, "diffusion:ddpm": 0.9,
              "classic+diffusion:ddpm": 0.5, "probe:border": 0.2}
    return [Trial(Cell(arm, 50, s), _scores(y, v, 10 * s + k))
            for s in range(3) for k, (arm, v) in enumerate(signal.items())]


def test_generated_arms_are_generative_whatever_made_them():
    assert is_generative("gan:dcgan") and is_generative("diffusion:ddpm")
    for arm in ("classic+diffusion:ddpm", "classic+gan:dcgan", "oversample", "probe:border",
                "all-real"):
        assert not is_generative(arm)


def test_the_primary_family_holds_every_generated_fill_and_no_combined_arm():
    y = np.array([0] * (N // 2) + [1] * (N // 2))
    trials = _trials(y)
    primary = primary_family(trials, y, Primary())
    assert {(r["arm"], r["ref"]) for r in primary} == {("gan:dcgan", "oversample"),
                                                       ("diffusion:ddpm", "oversample")}
    assert all(r["family_size"] == 2 for r in primary)
    ddpm = next(r for r in primary if r["arm"] == "diffusion:ddpm")
    assert ddpm["verdict"] == "better" and ddpm["d"] > 0
    exploratory = next(rows for name, rows in secondary_families(trials, y, Primary(), True).items()
                       if name.startswith("every other arm") and "AUC" in name)
    pairs = {(r["arm"], r["ref"]) for r in exploratory}
    assert ("classic+diffusion:ddpm", "oversample") in pairs
    assert ("diffusion:ddpm", "real") in pairs and ("diffusion:ddpm", "oversample") not in pairs
    assert not any(r["arm"].startswith("probe:") for r in exploratory)


def test_the_reports_note_on_unseen_differences_counts_the_diffusion_fill():
    row = {"level": "seeds", "ref": "oversample", "arm": "diffusion:ddpm", "p_ttest_holm": 0.4,
           "mdd_auc_holm": 0.031, "p_ttest_family": 1, "n": 3}
    note = unseen_note([row], "auc")
    assert "0.031 to 0.031" in note
    assert unseen_note([{**row, "arm": "classic+diffusion:ddpm"}], "auc") == ""
