"""Convergence of a GAN while it trains: a cheap distance of its samples to its budget's real
images, next to the same distance between two halves of those real images (the floor).

Features come from a fixed, randomly initialized CNN (seeded, never trained). Random
embeddings give usable Fréchet distances on domains far from ImageNet (Naeem et al. 2020,
"Reliable fidelity and diversity metrics for generative models"), and this one needs no
download and no training, and sees no image outside the budget: the probe of a cell with
budget N looks at those N real malignant images and nothing else, so a stop rule driven by it
respects the budget.

The distance is a Fréchet distance at matched sample sizes, averaged over `NUM_SPLITS` random
splits k of the N real images into halves A_k and B_k: the floor is FD(B_k, A_k), the measure
FD(F_k, A_k) with |F_k| = |B_k| generated images, and the yardstick FD(R_k, A_k) with |R_k| =
|B_k| real *benign* training images (other lesions, from outside the scarce class, so the
budget still holds). FD is biased upward at small sample sizes and the bias shrinks as N
grows, so raw FDs do not compare across budgets; matched sizes give all three the same bias,
and

    quality/gap = (FD(F, A) - FD(B, A)) / (FD(R, A) - FD(B, A))

does: 0 = as close to the budget's images as more real malignant images are, 1 = as far as
real benign lesions are. Measured on skin-cancer-mvb at 32 px (2026-12-01): real malignant
images from outside the budget read -0.10 to +0.13 at N = 50, 200 and 500 (two seeds each);
one split instead of the average left the yardstick at N = 50 within 20 % of the floor, too
noisy to read. The stop rule and the quality gate read the gap. KID (unbiased) of all probe
samples against all N is logged beside it.

The gate (`GATE_GAP` = 1.5) is a permissive threshold that raygan chose, not a guarantee: a run
passes when its samples are at most 1.5 times as far from A, above the real-vs-real floor, as
real benign lesions are, so a run between 1 and 1.5 is farther from its N real malignant images
than benign lesions are and still passes. The stop rule (`GANConfig.stop_below`, by default
1.5 = `GATE_GAP`) stops a run only at or below the gate, and the gate reads the same smoothed
gap at the step the run stopped, so every run that stopped early passes by construction.

The floor compares one half of the N images with the other, and the GAN trained on both halves:
samples that copy the training images sit closer to A than fresh real images of the class can,
and read below 0. Real malignant images from outside the budget read -0.10 to +0.13 (above);
laptop-5's GANs at N = 50 went down to -0.69 (DCGAN) and -0.48 (FastGAN). A final gap below
`MEMORIZATION_GAP` is flagged as possible memorization; the flag does not change the verdict.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from raygan.eval.fidelity import frechet_distance, kid
from raygan.gans.base import GAN
from raygan.images import to_float

FEATURE_SEED = 1234  # fixes the random extractor's weights: every probe everywhere uses these
PROBE_SEED = 9_999_999  # the sampling seed of probe images: disjoint from any fill's images
NUM_PROBE_FAKES = 256  # generated images per probe (KID uses all, each FD |B| of them)
NUM_SPLITS = 8  # random half splits the Fréchet distances are averaged over
CHANNELS = (32, 64, 64)  # random conv layers; features are the spatial means of each
# A GAN run passes the quality gate when its final gap is at most this: its samples are at most
# 1.5 times as far (above the real-vs-real floor) as real benign lesions are. A permissive
# threshold chosen by raygan; 1.0 would be "no farther than benign lesions".
GATE_GAP = 1.5
# The gap of real malignant images from outside the budget: the range fresh real images read
# (skin-cancer-mvb, 32 px, 2026-12-01; N = 50, 200, 500, two seeds each).
REAL_GAP_RANGE = (-0.10, 0.13)
# A final gap below this, under REAL_GAP_RANGE, is flagged "possible memorization": samples
# closer to the GAN's training images than fresh real images come (laptop-5 at N = 50: DCGAN
# -0.69, FastGAN -0.48). Extra information: the gate's verdict does not change.
MEMORIZATION_GAP = -0.15


def verdict(gap: float | None) -> str:
    """The quality gate: 'yes' (converged), 'no', or 'unknown' when no probe measured it."""
    if gap is None or not math.isfinite(gap):
        return "unknown"
    return "yes" if gap <= GATE_GAP else "no"


def possible_memorization(gap: float | None) -> bool:
    """True when a final gap lies below the real-vs-real range (`MEMORIZATION_GAP`): samples
    closer to the GAN's training images than fresh real images of the class are."""
    return gap is not None and math.isfinite(gap) and gap < MEMORIZATION_GAP


class RandomFeatures(nn.Module):
    """Spatial mean of every layer of a fixed random conv net, plus colour mean and std."""

    def __init__(self, seed: int = FEATURE_SEED):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers, c_in = [], 3
            for i, c in enumerate(CHANNELS):
                layers.append(nn.Sequential(nn.Conv2d(c_in, c, 3, stride=1 if i == 0 else 2,
                                                      padding=1), nn.LeakyReLU(0.2)))
                c_in = c
            self.layers = nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    @property
    def dim(self) -> int:
        return 6 + sum(CHANNELS)

    @torch.no_grad()
    def forward(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """(n, dim) float64 features of uint8 NCHW images of any size."""
        out = []
        for i in range(0, len(images), batch):
            x = to_float(torch.from_numpy(np.ascontiguousarray(images[i : i + batch])))
            feats = [x.mean((2, 3)), x.std((2, 3))]
            for layer in self.layers:
                x = layer(x)
                feats.append(x.mean((2, 3)))
            out.append(torch.cat(feats, 1).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))


def halves(n: int, seed: int, split: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint index halves of range(n), fixed by (`seed`, `split`); A gets the extra one."""
    order = np.random.default_rng([seed, split, 31]).permutation(n)
    return np.sort(order[: (n + 1) // 2]), np.sort(order[(n + 1) // 2 :])


class QualityProbe:
    """Distance of a GAN's samples to the real images it trains on, and its real-vs-real floor."""

    def __init__(self, real: np.ndarray, reference: np.ndarray, seed: int,
                 num_fakes: int = NUM_PROBE_FAKES):
        """`real`: the budget's N real images; `reference`: real images of the other class
        (at least N / 2), the yardstick of the gap."""
        if len(real) < 4:
            raise ValueError(f"a quality probe needs at least 4 real images, got {len(real)}")
        self.splits = [halves(len(real), seed, k) for k in range(NUM_SPLITS)]
        self.size_b = len(self.splits[0][1])
        if len(reference) < self.size_b:
            raise ValueError(f"the probe's reference needs at least {self.size_b} images, got "
                             f"{len(reference)}")
        self.extract = RandomFeatures()
        self.num_fakes = max(num_fakes, self.size_b)
        self.real = self.extract(real)
        ref = self.extract(reference)
        rng = np.random.default_rng([seed, 37])
        floors, refs = [], []
        for a, b in self.splits:
            floors.append(frechet_distance(self.real[b], self.real[a]))
            pick = rng.choice(len(ref), self.size_b, replace=False)
            refs.append(frechet_distance(ref[pick], self.real[a]))
        self.fd_floor, self.fd_reference = float(np.mean(floors)), float(np.mean(refs))
        # Tiny or odd data can put the reference no farther than the floor: then the gap has
        # no scale and reads NaN (the stop rule skips it, the gate says "unknown").
        self.scale = self.fd_reference - self.fd_floor
        a, b = self.splits[0]
        self.kid_floor = kid(self.real[b], self.real[a], subsets=20, subset_size=100,
                             seed=seed)[0]

    def measure_images(self, fake: np.ndarray) -> dict[str, float]:
        """`quality/*` metrics of uint8 NCHW generated images (at least |B| of them)."""
        feats = self.extract(fake)
        fd = float(np.mean([frechet_distance(np.roll(feats, -k * 17, 0)[: self.size_b],
                                             self.real[a])
                            for k, (a, _) in enumerate(self.splits)]))
        return {
            "quality/gap": (fd - self.fd_floor) / self.scale if self.scale > 0 else math.nan,
            "quality/fd": fd,
            "quality/fd_floor": self.fd_floor,
            "quality/fd_reference": self.fd_reference,
            "quality/kid": kid(feats, self.real, subsets=20, subset_size=100, seed=0)[0],
            "quality/kid_floor": self.kid_floor,
        }

    def __call__(self, gan: GAN) -> dict[str, float]:
        """Probe `gan` on its fixed probe images (the same latents at every step), sampled as
        a probe samples (a diffusion family with its `probe_sample_steps`)."""
        with gan.probe_sampling():
            fake = gan.generate(max(self.num_fakes, self.size_b), PROBE_SEED)
        return self.measure_images(fake)

