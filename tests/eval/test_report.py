"""The report's statistics on synthetic scores with known structure."""

import csv

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from raygan.cell import Cell, Gate
from raygan.eval.fidelity import GeneratedRun, fidelity_rows
from raygan.eval.markdown import (
    across_seeds_table,
    comparison_table,
    conclusions,
    fidelity_correlation_table,
    fidelity_table,
    study_table,
    summary_table,
    unseen_note,
)
from raygan.eval.numbers import Trial, comparisons, fidelity_correlations, per_trial
from raygan.eval.plots import budget_figure, budget_plot_png
from raygan.eval.report import write_report
from raygan.eval.stats import min_detectable_diff
from raygan.eval.verdicts import Primary, primary_family, secondary_families

N = 400


@pytest.fixture(scope="module")
def y():
    return np.array([0] * (N // 2) + [1] * (N // 2))


def _scores(y, signal, seed):
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, len(y)))))


def _trials(y, gan_signal, seeds=(0, 1, 2)):
    out = []
    for s in seeds:
        base = _scores(y, 0.3, 100 + s)
        out += [Trial(Cell("real", 50, s), base),
                Trial(Cell("oversample", 50, s), _scores(y, 0.35, 200 + s)),
                Trial(Cell("gan:dcgan", 50, s), _scores(y, gan_signal, 300 + s)),
                Trial(Cell("all-real", "all", s), _scores(y, 2.0, 400 + s))]
    return out


def _verdicts(trials, y):
    """The conclusions of the default primary comparison (AUC) and of its accuracy twin."""
    primary = Primary()
    second = secondary_families(trials, y, primary, True)
    return conclusions(primary_family(trials, y, primary),
                       second["the primary comparison in accuracy"])


def test_per_trial_intervals_bracket_the_estimates(y):
    rows = per_trial(_trials(y, 1.0, seeds=(0,)), y)
    for r in rows:
        assert r["acc_lo"] <= r["acc"] <= r["acc_hi"] and r["auc_lo"] <= r["auc"] <= r["auc_hi"]
        trial = next(t for t in _trials(y, 1.0, seeds=(0,)) if t.arm == r["arm"])
        correct = int(((trial.p >= 0.5) == y).sum())
        assert r["acc"] == correct / len(y)
        wilson = stats.binomtest(correct, len(y)).proportion_ci(0.95, method="wilson")
        assert (r["acc_lo"], r["acc_hi"]) == pytest.approx((wilson.low, wilson.high), abs=1e-12)
        assert r["auc"] == pytest.approx(roc_auc_score(y, trial.p), abs=1e-12)


def test_a_clearly_better_gan_wins_and_is_reported(y):
    comps = comparisons(_trials(y, 2.0), y)
    seed_level = [c for c in comps if c["level"] == "seed" and c["arm"] == "gan:dcgan"]
    assert len(seed_level) == 6  # 3 seeds x (vs real, vs oversample)
    assert all(c["d_auc"] > 0.2 and c["p_auc"] < 1e-6 for c in seed_level)
    across = [c for c in comps if c["level"] == "seeds"]
    assert {(c["arm"], c["ref"]) for c in across} == {("gan:dcgan", "real"),
                                                       ("gan:dcgan", "oversample"),
                                                       ("oversample", "real")}
    gan_vs_over = next(c for c in across if c["arm"] == "gan:dcgan" and c["ref"] == "oversample")
    # the across-seed means are the means of the per-seed differences
    per_seed = [c for c in seed_level if c["ref"] == "oversample"]
    assert gan_vs_over["d_auc"] == pytest.approx(np.mean([c["d_auc"] for c in per_seed]))
    assert gan_vs_over["d_acc"] == pytest.approx(np.mean([c["d_acc"] for c in per_seed]))
    assert gan_vs_over["d_acc_lo"] <= gan_vs_over["d_acc"] <= gan_vs_over["d_acc_hi"]
    assert gan_vs_over["d_acc"] > 0.1 and gan_vs_over["p_acc_ttest"] < 0.05
    for c in comps:  # Holm never lowers a p-value
        for k in ("p_auc", "p_acc", "p_ttest", "p_acc_ttest"):
            if k in c and not np.isnan(c[k]):
                assert c[k + "_holm"] >= c[k]
    # Holm within families: each family's smallest p is multiplied by that family's size
    for level, keys in (("seeds", ("p_ttest", "p_acc_ttest")), ("seed", ("p_auc", "p_acc"))):
        family = [(c, k) for c in comps if c["level"] == level for k in keys]
        c, k = min(family, key=lambda ck: ck[0][ck[1]])
        assert c[k + "_holm"] == pytest.approx(min(1.0, len(family) * c[k]))
    text = _verdicts(_trials(y, 2.0), y)
    assert len(text) == 1
    auc, acc = text[0].split("accuracy (secondary")
    assert "AUC (primary; Holm family of 1" in auc and "gan:dcgan better than oversample" in auc
    assert "gan:dcgan better than oversample (dAcc = +" in acc
    # The across-seed interval is Student's t on the three per-seed differences.
    d = np.array([c["d_acc"] for c in per_seed])
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert gan_vs_over["d_acc_lo"] == pytest.approx(lo, abs=1e-12)
    assert gan_vs_over["d_acc_hi"] == pytest.approx(hi, abs=1e-12)
    assert gan_vs_over["d_acc_boot_lo"] >= d.min() and gan_vs_over["d_acc_boot_hi"] <= d.max()
    table = across_seeds_table(comps)
    assert table.count("\n") == 1 + 3 and "| 50 | gan:dcgan | oversample | 3 |" in table


def test_an_identical_gan_does_not_win(y):
    trials = [t if t.arm != "gan:dcgan" else
              Trial(t.cell, next(o.p for o in _trials(y, 0)
                                                  if o.arm == "oversample" and o.seed == t.seed))
              for t in _trials(y, 0)]
    comps = comparisons(trials, y)
    same = [c for c in comps if c["arm"] == "gan:dcgan" and c["ref"] == "oversample"]
    assert all(c["d_auc"] == 0 for c in same)
    assert all(c["p_auc"] == 1.0 for c in same if c["level"] == "seed")
    assert all(c["d_acc"] == 0 for c in same)
    text = _verdicts(trials, y)[0]
    # The same scores in every seed: no variance at all, so equivalent within any margin (the
    # t-test alone would be undefined, which is not "no effect").
    assert text.count("gan:dcgan equivalent to oversample within ±0.02") == 2
    across = next(c for c in same if c["level"] == "seeds")
    assert np.isnan(across["p_ttest"]) and np.isnan(across["p_ttest_holm"])
    assert "undefined (all differences equal)" in across_seeds_table(comps)
    # Holm leaves the undefined p-values out: the other family members are adjusted as if
    # they were the whole family.
    family = [c[k] for c in comps if c["level"] == "seeds" for k in ("p_ttest", "p_acc_ttest")
              if not np.isnan(c[k])]
    smallest = min(family)
    holm_of = {c[k]: c[k + "_holm"] for c in comps if c["level"] == "seeds"
               for k in ("p_ttest", "p_acc_ttest")}
    assert holm_of[smallest] == pytest.approx(min(1.0, len(family) * smallest))


def test_a_worse_gan_is_called_significantly_worse(y):
    text = _verdicts(_trials(y, -1.0), y)[0]  # scores anti-correlated with the label
    assert "gan:dcgan worse than oversample (dAUC = -" in text
    assert "better than" not in text and "lower in 3 of 3 seeds" in text


def test_a_close_gan_states_what_the_test_could_detect(y):
    comps = comparisons(_trials(y, 0.35), y)  # the same signal as oversample, other noise
    over = next(c for c in comps if c["level"] == "seeds" and c["arm"] == "gan:dcgan"
                and c["ref"] == "oversample")
    text = _verdicts(_trials(y, 0.35), y)[0]
    assert over["p_ttest_holm"] >= 0.05
    assert "gan:dcgan inconclusive against oversample" in text and "seeds for a verdict:" in text
    assert "not significantly" not in text and "no effect" not in text
    # The detectable difference of the secondary t-test is at the alpha its Holm family's
    # first step uses, not at 0.05.
    family = over["p_ttest_family"]
    assert family == 6  # 3 comparisons x AUC and accuracy
    mdd = min_detectable_diff(3, over["sd_auc"], 0.05 / family)
    assert over["mdd_auc_holm"] == pytest.approx(mdd, rel=1e-12)
    assert over["mdd_auc_holm"] > over["mdd_auc"]
    note = unseen_note(comps, "auc")
    assert f"at alpha 0.05/{family}" in note and "2 degrees of freedom" in note


def test_one_seed_conclusions_state_the_per_seed_tests_power(y):
    comps = comparisons(_trials(y, 0.35, seeds=(0,)), y)
    c = next(c for c in comps if c["arm"] == "gan:dcgan" and c["ref"] == "oversample")
    text = _verdicts(_trials(y, 0.35, seeds=(0,)), y)[0]
    assert "of 1 seeds" in text and "needs 2 seeds to plan" in text
    # DeLong: (z(0.975) + z(0.8)) x the SE of the AUC difference; at the decision's alpha,
    # z(1 - 0.05 / (2 m)) for a family of m.
    se = abs(c["d_auc"] / stats.norm.isf(c["p_auc"] / 2))
    assert c["mdd_auc"] == pytest.approx((1.959963984540054 + 0.8416212335729143) * se,
                                         rel=1e-6)
    m = c["p_auc_family"]
    assert c["mdd_auc_holm"] == pytest.approx(
        (stats.norm.isf(0.025 / m) + 0.8416212335729143) * se, rel=1e-6)
    assert f"the DeLong test detects a difference in AUC of {c['mdd_auc_holm']:.3f}" in (
        unseen_note(comps, "auc"))


def test_tables_and_plot(y):
    trials = _trials(y, 1.0, seeds=(0,))
    rows = per_trial(trials, y)
    table = summary_table(rows)
    assert table.count("\n") == 1 + 4 and "N=all" in table and "[" in table
    study = study_table(rows)
    assert "0.620" in study and "0.730" in study and "0.830" in study
    assert "| 50 | 0 | gan:dcgan | oversample |" in comparison_table(comparisons(trials, y))
    assert budget_plot_png({"test split": rows})[:8] == b"\x89PNG\r\n\x1a\n"
    assert across_seeds_table(comparisons(trials, y)) == ""  # one seed: nothing across seeds


def test_a_one_budget_plot_draws_error_bars(y):
    import matplotlib.pyplot as plt

    rows = [r for r in per_trial(_trials(y, 1.0, seeds=(0,)), y) if r["arm"] != "all-real"]
    fig = budget_figure({"test split": rows})
    acc_ax = fig.axes[0]
    bars = [c for c in acc_ax.containers if c.has_yerr]
    assert len(bars) == 3  # real, oversample, gan:dcgan: one bar each
    gan = next(r for r in rows if r["arm"] == "gan:dcgan")
    segments = [seg for c in bars for seg in c.lines[2][0].get_segments()]
    assert any(np.allclose(seg[:, 1], [gan["acc_lo"], gan["acc_hi"]]) for seg in segments)
    plt.close(fig)


def test_several_seeds_show_the_spread_across_seeds(y):
    trials = _trials(y, 1.0)
    rows = per_trial(trials, y)
    table = summary_table(rows)
    accs = [r["acc"] for r in rows if r["arm"] == "gan:dcgan"]
    cell = f"{np.mean(accs):.3f} ± {np.std(accs, ddof=1):.3f}"
    assert cell in table and "[" not in table
    assert budget_plot_png({"test split": rows})[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_report_with_several_seeds(y, tmp_path):
    paths = write_report(_trials(y, 2.0), y, tmp_path, "three seeds")
    md = (tmp_path / "report.md").read_text()
    assert "## Across seeds" in md and "| 50 | gan:dcgan | oversample | 3 |" in md
    assert "± SD across seeds" in md
    header = (tmp_path / "comparisons.csv").read_text().splitlines()[0].split(",")
    assert "p_acc_ttest_holm" in header and "d_acc_lo" in header
    assert all(p.exists() for p in paths)


class _ColourStats:
    """A fixed feature map (per-channel mean and std, on a grid), standing in for the CNN."""

    def features(self, images):
        x = images.astype(np.float32) / 255.0
        n = len(x)
        cells = x.reshape(n, 3, 4, x.shape[2] // 4, 4, x.shape[3] // 4)
        return np.concatenate([cells.mean((3, 5)).reshape(n, -1),
                               cells.std((3, 5)).reshape(n, -1)], 1)


def test_fidelity_rows_rank_copies_above_noise():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:16, :16]
    base = np.stack([np.stack([(yy * 8 + c * 40 + k) % 256 for c in range(3)])
                     for k in range(0, 240, 2)]).astype(np.uint8)
    real = base[:100]
    noise = rng.integers(0, 256, (50, 3, 16, 16), dtype=np.uint8)
    train, held_out = real[0::2], real[1::2]  # the held-out images interleave the training ones
    copy_cell, noise_cell = Cell("gan:copy", 20, 0), Cell("gan:noise", 20, 0)
    rows, memos = fidelity_rows([GeneratedRun(noise_cell, noise, train, held_out),
                                 GeneratedRun(copy_cell, train.copy(), train, held_out)],
                                real, _ColourStats(), {copy_cell: 0.8})
    copy, noisy = rows  # in the cells' order
    assert copy["near_copies"] == 1.0 and noisy["near_copies"] == 0.0
    assert noisy["nn_ratio_min"] > copy["nn_ratio_median"] == 0.0
    assert memos[copy_cell].nearest.tolist() == list(range(50))  # each copy finds its original
    assert copy["fd"] < noisy["fd"] and copy["kid"] < noisy["kid"]
    assert copy["precision"] > 0.5 > noisy["precision"] and copy["prdc_images"] == 50
    assert copy["test_auc"] == 0.8 and np.isnan(noisy["test_auc"])
    assert "| gan:copy | 20 | 0 |" in fidelity_table(rows)


def _fidelity(budget, fd, kid, cas_auc, test_auc):
    return [{"arm": "gan:dcgan", "budget": budget, "seed": i, "fd": a, "kid": b, "cas_auc": c,
             "near_copies": 0.0, "test_auc": d}
            for i, (a, b, c, d) in enumerate(zip(fd, kid, cas_auc, test_auc, strict=True))]


def test_fidelity_correlations_are_spearman_rank_correlations():
    auc = [0.5, 0.6, 0.7, 0.8]
    rows = _fidelity(50, [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0], [0.9, 0.8, 0.7, 0.6], auc)
    rows += _fidelity(200, [1.0, 2.0], [1.0, 2.0], [0.7, 0.8], [0.6, 0.7])  # 2 runs: no rho
    rows += _fidelity(500, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.7, 0.7, 0.7], [0.6, 0.7, 0.8])
    rho = {(c["budget"], c["measure"]): c["rho"] for c in fidelity_correlations(rows)}
    # Hand-worked: KID ranks (1,3,2,4) against (1,2,3,4): 1 - 6*(0+1+1+0)/(4*15) = 0.8.
    assert rho[(50, "fd")] == pytest.approx(1.0) and rho[(50, "cas_auc")] == pytest.approx(-1.0)
    assert rho[(50, "kid")] == pytest.approx(0.8)
    assert (500, "fd") in rho and (500, "cas_auc") not in rho  # a constant CAS has no rank order
    assert not any(b == 200 for b, _ in rho)
    table = fidelity_correlation_table(fidelity_correlations(rows))
    assert "| 50 | KID | 4 | +0.80 |" in table


def test_write_report_with_cas(y, tmp_path):
    trials = _trials(y, 1.0)
    rows = _fidelity(50, [3.0, 1.0, 2.0], [0.3, 0.1, 0.2], [0.61, 0.72, 0.65], [0.6, 0.7, 0.65])
    assert "| gan:dcgan | 50 | 1 | 1.00 | 0.1000 | 0.0% | 0.720 | 0.700 |" in fidelity_table(rows)
    del rows[0]["cas_auc"]  # a run without CAS leaves its cell empty
    assert "| gan:dcgan | 50 | 0 | 3.00 | 0.3000 | 0.0% |  | 0.600 |" in fidelity_table(rows)
    write_report(trials, y, tmp_path, "cas", fidelity=rows)
    md = (tmp_path / "report.md").read_text()
    ref = np.mean([per["auc"] for per in per_trial(trials, y) if per["arm"] == "all-real"])
    assert f"real malignant images (test AUC {ref:.3f})" in md
    assert "| 50 | domain FD | 3 | -1.00 |" in md and "CAS AUC |" in md
    assert (tmp_path / "fidelity_plot.png").read_bytes()[:4] == b"\x89PNG"
    saved = list(csv.DictReader((tmp_path / "fidelity.csv").open()))
    assert [r["cas_auc"] for r in saved] == ["", "0.72", "0.65"]  # every row, CAS where measured
    assert float(saved[0]["fd"]) == 3.0 and saved[0]["test_auc"] == "0.6"


def _gate(seed, gap, verdict, steps=300, arm="gan:dcgan", budget=50):
    return Gate(Cell(arm, budget, seed), steps=steps, max_steps=400, stopped_early=steps < 400,
                gap=gap, converged=verdict, run_id=str(seed))


def test_report_names_the_runs_that_failed_the_quality_gate(y, tmp_path):
    gates = [_gate(0, 0.4, "yes"), _gate(1, 2.5, "no", 400), _gate(2, 0.6, "yes")]
    curves = {Cell("gan:dcgan", 50, s): [(100, 3.0), (200, 1.0 + s), (300, 0.4)] for s in range(3)}
    paths = write_report(_trials(y, 2.0), y, tmp_path, "gate", gates=gates, curves=curves)
    md = (tmp_path / "report.md").read_text()
    assert "2 of 3 GAN runs passed the quality gate" in md
    assert "1 did not converge (gan:dcgan N=50 seed 1)" in md
    assert "| gan:dcgan | 50 | 1 | 400 (400) | no | 2.50 | no |" in md
    assert "| gan:dcgan | 50 | 0 | 300 (400) | yes | 0.40 | yes |" in md
    assert (tmp_path / "convergence.png").read_bytes()[:4] == b"\x89PNG"
    assert tmp_path / "convergence.png" in paths


def test_results_table_marks_fills_of_unconverged_gans():
    from raygan.eval.table import markdown, rows_csv

    rows = [{"arm": "gan:dcgan", "budget": 50, "seed": s, "test/acc": 0.7, "test/auc": 0.8,
             "gan_gap": gap, "gan_converged": v}
            for s, gap, v in ((0, 0.3, "yes"), (1, 3.0, "no"))]
    rows.append({"arm": "real", "budget": 50, "seed": 0, "test/acc": 0.6, "test/auc": 0.8})
    table = markdown(rows)
    assert "0.700 / 0.800 (GAN not converged in 1 seed)" in table
    assert "| real | 0.600 / 0.800 |" in table
    assert "gan_converged" in rows_csv(rows).splitlines()[0]


def test_conclusions_across_seeds_give_both_intervals_and_seed_counts(y):
    trials = _trials(y, 3.0)
    line = next(c for c in _verdicts(trials, y) if c.startswith("N=50"))
    row = primary_family(trials, y, Primary())[0]
    assert (f"dAUC = {row['d']:+.3f} [95% CI {row['lo']:+.3f}, {row['hi']:+.3f}; simultaneous "
            f"{row['sim_lo']:+.3f}, {row['sim_hi']:+.3f}]") in line
    # a far stronger GAN scores higher in every seed
    assert "higher in 3 and lower in 0 of 3 seeds" in line
    assert "gan:dcgan better than oversample" in line


def test_summary_md_holds_the_compact_tables_of_every_test_set(y, tmp_path):
    trials = _trials(y, 2.0)
    gates = [_gate(0, 0.4, "yes"), _gate(1, 2.5, "no", 400), _gate(2, 0.6, "yes")]
    fidelity = [{"arm": "gan:dcgan", "budget": 50, "seed": s, "cas_auc": v, "fd": 1.0 + s,
                 "kid": 0.01, "near_copies": 0.0, "test_auc": 0.8}
                for s, v in enumerate((0.80, 0.82, 0.84))]
    paths = write_report(trials, y, tmp_path, "glance", gates=gates, fidelity=fidelity)
    summary = tmp_path / "summary.md"
    assert summary in paths
    md = summary.read_text()
    rows = per_trial(trials, y)
    real = [r for r in rows if r["arm"] == "real"]
    acc, auc = (np.array([r[k] for r in real]) for k in ("acc", "auc"))
    # mean ± SD (n - 1) across the three seeds, as numpy computes them
    assert (f"| real | {acc.mean():.3f} ± {acc.std(ddof=1):.3f} / "
            f"{auc.mean():.3f} ± {auc.std(ddof=1):.3f} |") in md
    assert "| gan:dcgan | 2 of 3 pass (0.40 / 2.50 / 0.60) |" in md
    assert "| gan:dcgan | 0.820 ± 0.020 |" in md
    assert "## Test split: 400 images (200 malignant)" in md


def test_summary_md_leads_with_the_primary_verdicts(y, tmp_path):
    trials = _trials(y, 3.0)
    write_report(trials, y, tmp_path, "effects")
    md = (tmp_path / "summary.md").read_text()
    row = primary_family(trials, y, Primary())[0]
    # the primary comparison comes first, with its declaration and its verdict row
    assert md.index("## Primary comparison") < md.index("## Test split")
    assert "not declared by this sweep: raygan's default stands in" in md
    assert (f"| 50 | gan:dcgan | oversample | {row['d']:+.3f} | [{row['lo']:+.3f}, "
            f"{row['hi']:+.3f}] |") in md
    assert "| 3 of 3 | **better** |" in md
    assert "Verdicts: 1 better, 0 worse, 0 equivalent, 0 non-inferior, 0 inconclusive." in md
    assert "Secondary: the primary comparison in accuracy" in md
    # the study's figures sit in the in-distribution section
    assert "| cell | study acc | ours acc |" in md
    with (tmp_path / "verdicts.csv").open() as f:
        families = {r["family"] for r in csv.DictReader(f)}
    assert "primary" in families and "the primary comparison in accuracy" in families


def test_unseen_note_gives_the_detectable_range_at_the_decisions_alpha():
    def row(arm, p, mdd):
        return {"level": "seed", "budget": 50, "seed": 0, "arm": arm, "ref": "oversample",
                "p_auc_holm": p, "p_auc_family": 6, "mdd_auc_holm": mdd}

    comps = [row("gan:dcgan", 0.16, 0.024), row("gan:pggan", 0.61, 0.031),
             row("gan:fastgan", 0.001, 0.011)]  # significant: what it could see is moot
    note = unseen_note(comps, "auc")
    assert "the DeLong test detects a difference in AUC of 0.024 to 0.031 or more" in note
    assert "at alpha 0.05/6 = 0.0083" in note
    assert "only an equivalence verdict says that" in note
    assert unseen_note(comps[2:], "auc") == ""


def test_each_test_set_gets_a_budget_plot_of_its_own(y, tmp_path):
    from raygan.eval.numbers import TestSet

    trials = _trials(y, 2.0)
    ext = TestSet("isic", y, trials, external=True, duplicates=0)
    paths = write_report(trials, y, tmp_path, "plots", external=[ext])
    for name in ("budget_plot.png", "budget_plot_test.png", "budget_plot_isic.png"):
        assert tmp_path / name in paths
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "summary.md").read_text()
    assert "(budget_plot_test.png)" in md and "(budget_plot_isic.png)" in md


def test_gate_grid_with_one_seed_gives_gap_and_steps():
    from raygan.eval.markdown import gate_grid

    gates = [_gate(0, 0.4, "yes"), _gate(0, 2.5, "no", 400, budget=200)]
    grid = gate_grid(gates)
    assert "| gan:dcgan | 0.40, stopped at 300 | 2.50, 400 **no** |" in grid


def test_gate_text_gives_what_the_gate_means_on_the_gaps_own_scale():
    from raygan.eval.convergence import GATE_TEXT
    from raygan.eval.quality import GATE_GAP

    assert GATE_GAP == 1.5  # a permissive gate: 1.0 would be "as far as benign lesions"
    assert "no farther from" not in GATE_TEXT
    assert "at most 1.5 times as far" in GATE_TEXT and "above the real-vs-real floor" in GATE_TEXT
    assert "permissive threshold chosen by raygan" in GATE_TEXT
    assert "every run that stopped early passes by construction" in GATE_TEXT


@pytest.mark.parametrize("gap, flagged", [(-0.69, True), (-0.16, True), (-0.15, False),
                                          (-0.10, False), (0.13, False), (1.2, False),
                                          (float("nan"), False), (None, False)])
def test_possible_memorization_is_a_gap_below_the_real_vs_real_range(gap, flagged):
    from raygan.eval.quality import MEMORIZATION_GAP, REAL_GAP_RANGE, possible_memorization

    assert MEMORIZATION_GAP < REAL_GAP_RANGE[0]  # below what fresh real images read
    assert possible_memorization(gap) is flagged


def test_gate_table_and_conclusion_flag_a_gap_below_the_floor_range():
    from raygan.eval.convergence import gate_conclusion, gate_table

    gates = [_gate(0, 0.4, "yes"), _gate(1, -0.69, "yes"), _gate(2, -0.10, "yes"),
             _gate(0, -0.48, "yes", arm="gan:fastgan"), _gate(3, 2.5, "no", 400)]
    table = gate_table(gates)
    # flagged, and still passing: the flag is extra information, not a verdict
    flag = "(possible memorization)"
    assert f"| gan:dcgan | 50 | 1 | 300 (400) | yes | -0.69 {flag} | yes |" in table
    assert f"| gan:fastgan | 50 | 0 | 300 (400) | yes | -0.48 {flag} | yes |" in table
    assert "| gan:dcgan | 50 | 2 | 300 (400) | yes | -0.10 | yes |" in table  # in the real range
    assert "| gan:dcgan | 50 | 0 | 300 (400) | yes | 0.40 | yes |" in table
    assert table.count("possible memorization") == 2
    text = gate_conclusion(gates)
    assert text.startswith("4 of 5 GAN runs passed the quality gate (final gap at most 1.5, a "
                           "permissive threshold; 4 of them stopped early")
    assert "1 did not converge (gan:dcgan N=50 seed 3)" in text
    assert ("2 read below the real-vs-real range (final gap below -0.15), possible memorization: "
            "gan:dcgan N=50 seed 1 (-0.69), gan:fastgan N=50 seed 0 (-0.48)") in text
    plain = [_gate(0, 0.4, "yes"), _gate(2, -0.10, "yes")]
    assert "memorization" not in gate_table(plain) + gate_conclusion(plain)


def test_gate_grid_flags_a_gap_below_the_floor_range():
    from raygan.eval.markdown import gate_grid

    several = [_gate(0, 0.24, "yes"), _gate(1, -0.00, "yes"), _gate(2, -0.69, "yes")]
    grid = gate_grid(several)
    assert ("| gan:dcgan | 3 of 3 pass (0.24 / -0.00 / -0.69); possible memorization: seed 2 |"
            in grid)
    assert "is marked 'possible memorization'" in grid  # the line that says what it means
    one = gate_grid([_gate(0, -0.48, "yes", 400)])
    assert "| gan:dcgan | -0.48, 400, possible memorization |" in one
    assert "memorization" not in gate_grid([_gate(0, 0.24, "yes"), _gate(1, -0.10, "yes")])


def test_report_and_summary_flag_possible_memorization(y, tmp_path):
    gates = [_gate(0, 0.4, "yes"), _gate(1, -0.69, "yes"), _gate(2, 0.6, "yes")]
    write_report(_trials(y, 2.0), y, tmp_path, "copies", gates=gates)
    report = (tmp_path / "report.md").read_text()
    assert ("| gan:dcgan | 50 | 1 | 300 (400) | yes | -0.69 (possible memorization) | yes |"
            in report)
    assert "possible memorization: gan:dcgan N=50 seed 1 (-0.69)" in report
    summary = (tmp_path / "summary.md").read_text()
    assert "3 of 3 pass (0.40 / -0.69 / 0.60); possible memorization: seed 1" in summary


def _external(n_benign: int, n_malignant: int, **audit):
    from raygan.eval.numbers import TestSet

    y = np.array([0] * n_benign + [1] * n_malignant)
    return TestSet("isic", y, [], external=True, **audit)


def test_set_title_states_the_prevalence_left_by_the_audit_and_a_one_class_drop():
    from raygan.eval.report import set_title

    # ISIC 2017 against skin-cancer-mvb: 658 images, 120 melanoma; the audit drops 56 melanomas
    title = set_title(_external(538, 64, duplicates=56, duplicates_malignant=56))
    assert title == ("External test set isic: 602 images (64 malignant); 56 duplicates of "
                     "training images dropped by the duplicate audit, all malignant: a "
                     "label-selected subset; prevalence 10.6 % after the audit (18.2 % before)")
    assert f"{100 * 64 / 602:.1f} %" in title and f"{100 * 120 / 658:.1f} %" in title
    benign = set_title(_external(200, 100, duplicates=30, duplicates_malignant=0))
    assert ("30 duplicates of training images dropped by the duplicate audit, all benign: a "
            "label-selected subset; prevalence 33.3 % after the audit (30.3 % before)") in benign


def test_set_title_without_a_one_class_drop_makes_no_selection_remark():
    from raygan.eval.report import set_title

    mixed = set_title(_external(240, 60, duplicates=7, duplicates_malignant=3))
    assert mixed.endswith("7 duplicates of training images dropped by the duplicate audit "
                          "(3 malignant, 4 benign); prevalence 20.0 % after the audit "
                          "(20.5 % before)")  # 63 of 307
    kept = set_title(_external(240, 60, duplicates=7, duplicates_malignant=7,
                               kept_duplicates=True))
    assert kept.endswith("7 duplicates of training images kept by the duplicate audit "
                         "(7 malignant); prevalence 20.0 %")
    none = set_title(_external(240, 60, duplicates=0, duplicates_malignant=0))
    assert none.endswith("0 duplicates of training images dropped by the duplicate audit; "
                         "prevalence 20.0 %")
    unknown = set_title(_external(240, 60, duplicates=7))
    assert unknown.endswith("dropped by the duplicate audit; prevalence 20.0 % after the audit")
    for title in (mixed, kept, none, unknown):
        assert "label-selected" not in title


def test_report_sections_of_an_external_set_state_its_audited_prevalence(y, tmp_path):
    from raygan.eval.numbers import TestSet

    trials = _trials(y, 2.0)
    y_ext = np.array([0] * 240 + [1] * 60)
    ext = TestSet("isic", y_ext, _trials(y_ext, 0.35, (0, 1, 2)), external=True, duplicates=10,
                  duplicates_malignant=10)
    write_report(trials, y, tmp_path, "audited", external=[ext])
    title = ("External test set isic: 300 images (60 malignant); 10 duplicates of training "
             "images dropped by the duplicate audit, all malignant: a label-selected subset; "
             "prevalence 20.0 % after the audit (22.6 % before)")
    for name in ("report.md", "summary.md"):
        assert f"## {title}" in (tmp_path / name).read_text()


def test_the_gate_is_read_against_cas_by_gap_band():
    from scipy.stats import spearmanr

    from raygan.eval.convergence import gate_cas_table

    gaps, cas_auc = [0.2, 1.2, 1.7, 0.5, 0.9], [0.85, 0.80, 0.70, 0.84, 0.83]
    gates = [_gate(s, g, "yes") for s, g in enumerate(gaps)]
    cas = {Cell("gan:dcgan", 50, s): c for s, c in enumerate(cas_auc)}
    table = gate_cas_table(gates, cas)
    rho = spearmanr(gaps, cas_auc).statistic
    assert (f"| 50 | 3 runs, CAS {np.mean([0.85, 0.84, 0.83]):.3f} | 1 run, CAS 0.800 | "
            f"1 run, CAS 0.700 | {rho:+.2f} (5 runs) |") in table
    assert gate_cas_table(gates, {}) == ""


def _grid(arms, finished, gans=("dcgan",)):
    """The GridStatus of a grid of `arms` at N=50, seeds 0-2, against the runs `finished`."""
    from types import SimpleNamespace

    from raygan.eval.grid import GridStatus

    cfg = SimpleNamespace(arms=tuple(arms), budgets=(50,), seeds=(0, 1, 2),
                          gan_names=tuple(g for g in gans if f"gan:{g}" in arms))
    return GridStatus.of(cfg, finished)


def test_a_partial_grid_titles_the_report_and_lists_its_missing_cells(y, tmp_path):
    trials = [t for t in _trials(y, 1.0) if t.cell.run_name != "oversample-n50-s2"]
    arms = ("real", "oversample", "gan:dcgan", "all-real")
    grid = _grid(arms, [t.cell.run_name for t in trials]
                 + ["train:dcgan-n50-s0", "train:dcgan-n50-s2"])
    assert grid.missing == ("train:dcgan-n50-s1", "oversample-n50-s2") and len(grid.cells) == 15
    write_report(trials, y, tmp_path, "r", grid=grid)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Partial report: 2 of 15 cells missing: raygan report: r\n")
    missing = md.index("## Missing cells")
    assert missing < md.index("## Primary comparison")
    assert "- GAN trainings (1): `train:dcgan-n50-s1`" in md[missing:]
    assert "- classifier cells (1): `oversample-n50-s2`" in md[missing:]
    assert "raygan run --resume --name r" in md[missing:]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# Partial report: 2 of 15 cells missing: r at a glance\n")
    assert "## Missing cells" in summary
    # A finished grid: the report as before.
    write_report(trials, y, tmp_path / "whole", "r", grid=_grid(
        ("real", "gan:dcgan", "all-real"), [t.cell.run_name for t in trials]
        + [f"train:dcgan-n50-s{s}" for s in (0, 1, 2)]))
    assert (tmp_path / "whole" / "report.md").read_text().startswith("# raygan report: r\n")
    assert "Missing cells" not in (tmp_path / "whole" / "report.md").read_text()
    assert not grid.refusal("r").count("\n")
    assert grid.refusal("r").startswith("sweep 'r' has not finished: 2 of 15 cells of its grid "
                                        "have no finished run (train:dcgan-n50-s1, "
                                        "oversample-n50-s2); finish it with raygan run --resume")


@pytest.mark.parametrize("arms, finished_arms, needle", [
    # not in the sweep's grid: its design
    (("real", "gan:dcgan"), ("real", "gan:dcgan"),
     "the sweep's grid has no `oversample` arm (its design: such a grid declares e.g. "
     "`--primary auc:real`)"),
    (("real", "oversample"), ("real", "oversample"),
     "the sweep's grid has no generative arm (its design)"),
    # in the grid, not finished: a partial report
    (("real", "oversample", "gan:dcgan"), ("real", "gan:dcgan"),
     "the grid's `oversample` arm has no finished cell yet (a partial report: see Missing "
     "cells)"),
    (("real", "oversample", "gan:dcgan"), ("real", "oversample"),
     "the grid's generative arms (gan:dcgan) have no finished cell yet (a partial report"),
    # the grid not known (trials alone): what the trials lack, no claim about the grid
    (None, ("real", "gan:dcgan"), "the trials reported hold no `oversample` trial"),
])
def test_an_absent_comparison_is_told_as_design_or_as_an_unfinished_sweep(
        y, tmp_path, arms, finished_arms, needle):
    trials = [t for t in _trials(y, 1.0) if t.arm in finished_arms]
    grid = None if arms is None else _grid(arms, [t.cell.run_name for t in trials]
                                           + [f"train:dcgan-n50-s{s}" for s in (0, 1, 2)])
    write_report(trials, y, tmp_path, "r", grid=grid)
    md = (tmp_path / "report.md").read_text()
    assert f"No generative arm is compared with `oversample`: {needle}" in md
    assert f"No generative arm is compared with the primary reference here: {needle}" in md
    assert "grid lacks" not in md and "grid holds no" not in md
    assert needle in (tmp_path / "summary.md").read_text()


def test_one_seed_verdicts_are_marked_provisional(y, tmp_path):
    """With one seed the interval holds the test images' variance alone: the primary section
    says so; with three it does not."""
    write_report(_trials(y, 3.0, seeds=(0,)), y, tmp_path / "one", "one")
    write_report(_trials(y, 3.0), y, tmp_path / "three", "three")
    one, three = ((tmp_path / d / "report.md").read_text() for d in ("one", "three"))
    lead = one[one.index("## Primary comparison"):one.index("\nVerdicts: ")]
    assert "**One seed:**" in lead and "provisional" in lead
    assert "**One seed:**" not in three
