"""Calibration of the crossed comparison by simulation: per-seed, per-image scores with a known
truth, to check that `stats.crossed_difference` keeps its type-I error, that its intervals
cover, and that `stats.seeds_needed` predicts its power.

The model (binormal, as ROC studies simulate; all draws vectorised over replications):
- image i of a test set has a latent lesion signal x_i ~ N(separation * y_i, 1), the same for
  every arm and seed (what makes two classifiers agree on easy and hard images);
- arm a adds +g_i / 2 and arm b -g_i / 2, g_i ~ N(0, image_sd^2): the two arms rank particular
  images differently, the same way in every seed. On one test set this makes a difference
  that no number of seeds averages away: the test-image variance;
- seed s of each arm shifts its positives' scores by u ~ N(0, seed_sd^2) (training variance),
  arm a by `shift` more (the true effect);
- every seed adds its own noise e ~ N(0, noise_sd^2) per image.

The population AUC of an arm, averaged over seeds, is then Phi(mu / sqrt(2 v + seed_sd^2))
with v = 1 + image_sd^2 / 4 + noise_sd^2 and mu its positives' mean shift, so the true
difference is known in closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from raygan.eval.stats import crossed_difference, crossed_power, difference_ci, difference_tests


@dataclass(frozen=True)
class Scenario:
    """One simulated design and truth (scores on an arbitrary scale; AUC is rank-based)."""

    seeds: int  # classifier trainings per arm, paired by seed
    images: int = 300  # test images, the same for every seed and arm
    prevalence: float = 0.45  # share of malignant test images (the dataset's test split: 0.45)
    separation: float = 1.2  # mean signal of a malignant image (binormal; AUC ~0.77 alone)
    seed_sd: float = 0.3  # seed-to-seed SD of each arm's positives' shift (training variance)
    image_sd: float = 0.8  # SD of the per-image disagreement between the arms (test variance)
    noise_sd: float = 1.0  # per-seed, per-image noise
    shift: float = 0.0  # arm a's extra shift of its positives: the true effect

    def true_auc_difference(self) -> float:
        """AUC of arm a minus arm b, in the population of test images and seeds."""
        spread = math.sqrt(2.0 * (1.0 + self.image_sd ** 2 / 4.0 + self.noise_sd ** 2)
                           + self.seed_sd ** 2)
        return float(stats.norm.cdf((self.separation + self.shift) / spread)
                     - stats.norm.cdf(self.separation / spread))


def simulate(sc: Scenario, reps: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (images,) and the two arms' scores (reps, seeds, images): `reps` independent test
    sets, each scored by `seeds` trainings of each arm."""
    y = (np.arange(sc.images) < round(sc.prevalence * sc.images)).astype(int)
    shape = (reps, sc.seeds, sc.images)
    x = rng.normal(size=(reps, 1, sc.images)) + sc.separation * y
    g = rng.normal(scale=sc.image_sd, size=(reps, 1, sc.images)) / 2.0
    ua = rng.normal(scale=sc.seed_sd, size=(reps, sc.seeds, 1)) + sc.shift
    ub = rng.normal(scale=sc.seed_sd, size=(reps, sc.seeds, 1))
    a = x + g + ua * y + rng.normal(scale=sc.noise_sd, size=shape)
    b = x - g + ub * y + rng.normal(scale=sc.noise_sd, size=shape)
    return y, a, b


def calibrate(sc: Scenario, reps: int, margin: float = 0.02, alpha: float = 0.05,
              seed: int = 0) -> dict[str, float]:
    """Simulate `reps` replications of `sc` and return: `reject` (share where the two-sided
    test rejects no difference at `alpha`), `cover` (share of (1 - alpha) intervals holding the
    true difference), `equivalent` (share where TOST at +-margin concludes equivalence at
    `alpha`), `naive_reject` (the paired t-test across seeds alone, which ignores the test
    images' variance), and the planner's predictions `power_difference` and
    `power_equivalence` from the mean variance components of the replications; `mc_se` is the
    Monte Carlo standard error of a share near `alpha`."""
    rng = np.random.default_rng(seed)
    y, a, b = simulate(sc, reps, rng)
    r = crossed_difference(y, a, b, "auc")
    truth = sc.true_auc_difference()
    p = difference_tests(r["d"], r["se"], r["df"], margin)
    lo, hi = difference_ci(r["d"], r["se"], r["df"], alpha)
    out = {"truth": truth, "reject": float(np.mean(p["p"] < alpha)),
           "cover": float(np.mean((lo <= truth) & (truth <= hi))),
           "equivalent": float(np.mean(p["p_equiv"] < alpha)),
           "mc_se": math.sqrt(alpha * (1 - alpha) / reps)}
    if sc.seeds > 1:
        naive = stats.ttest_1samp(r["d_seed"], 0.0, axis=-1).pvalue
        out["naive_reject"] = float(np.mean(naive < alpha))
        s2, cov = float(np.mean(r["s2"])), float(np.mean(r["cov"]))
        out.update(s2=s2, cov=cov,
                   power_difference=crossed_power(sc.seeds, s2, cov, margin, alpha, truth,
                                                  "difference"),
                   power_equivalence=crossed_power(sc.seeds, s2, cov, margin, alpha, truth,
                                                   "equivalence"))
    return out
