"""The profiles: named presets of a sweep (smoke, laptop, overnight, paper), and the arms of the
grid, which the GAN plug-ins' registry names. Above raygan.config (the dataclasses and their
checks) and raygan.gans (the families), so that every arm list derives from the registry."""

from __future__ import annotations

import dataclasses

from raygan.cell import ALL_REAL
from raygan.config import PROBE_NAMES, ClassifierConfig, GANConfig, SweepConfig
from raygan.errors import RayganError
from raygan.gans import CPU_ARMS, GENERATED_ARMS

# Every arm, in the order the grid and its tables give them: the baselines, each registered
# family's arm in registry order (the GANs', then `diffusion:ddpm`), then all-real. The shortcut
# probes (--probes) and the classic+<arm> arms run on request only: 9 CNN probe trials cost
# about 4 minutes on 2 cores at 32 px (45-55 s each, 2026-12-06), a tenth of a laptop seed
# (42.1 min for seed 0 with five families, seed-24, 2026-12-06).
ALL_ARMS = ("real", "oversample", "classic", *GENERATED_ARMS, ALL_REAL)
# The CPU profiles' arms: every family's but those too costly on a CPU (`cpu_default`: the
# diffusion model), which `--arms ...,diffusion:ddpm` adds on request
CPU_GRID_ARMS = ("real", "oversample", "classic", *CPU_ARMS, ALL_REAL)
FEW_SHOT_AUG = "color,translation,cutout"  # DiffAugment as the FastGAN paper trains
PGGAN_OPTIM = {"lr": 1e-3, "beta1": 0.0}  # the PGGAN paper's Adam, for equalized-lr weights
# The diffusion family's Adam (beta1 0.9 as the DDPM paper, not a GAN's 0.5), no DiffAugment
# (it has no discriminator)
DIFFUSION = {"beta1": 0.9, "diffaugment": ""}


def _smoke() -> SweepConfig:
    return SweepConfig(
        profile="smoke",
        resolution=32,
        budgets=(20,),  # one budget: each GAN training costs ~20-50 s of Ray Train start-up
        # Every baseline, the study's first GAN and the few-shot one: two GAN trainings run side
        # by side on 2 cores. Every family is exercised by the registry-parametrized tests.
        arms=("real", "oversample", "classic", "gan:dcgan", "gan:fastgan", "all-real"),
        gan=GANConfig(width=8, batch_size=16, steps=20, checkpoint_every=10, log_every=5,
                      eval_every=10),
        gan_overrides={"pggan": PGGAN_OPTIM,
                       "ddpm": {**DIFFUSION, "sample_steps": 10, "probe_sample_steps": 5}},
        classifier=ClassifierConfig(epochs=2, patience=2),
        num_grid_images=16,
    )


def _laptop() -> SweepConfig:
    # 32 px: the 2-block CNN scores as well as at 64 px (all real, one seed: 0.864 acc / 0.946
    # AUC against 0.844 / 0.938), and a GAN step costs about a quarter. Upper bounds on the
    # steps come from quality curves measured on the real data (2026-12-01, 2-core CPU;
    # docs/running.md, "GANs that train"): at N=500 DCGAN's quality/gap had flattened near 0.1
    # by step ~1800,
    # FastGAN's near 0.2-0.5 by ~1000, InfoGAN's and CycleGAN's were at 1.1-1.3 and ~0.7 at
    # 1500 (CAS AUC 0.89, 0.85, 0.86, 0.82); InfoGAN's at N=50 was still falling at 1500
    # (4.5, from 34), so it gets 2000. PGGAN's full-size stage did not settle within 2000 steps
    # with the paper's WGAN-GP at lr 1e-3 or 5e-4 (gap 3-30); with the logistic loss, R1 and
    # a generator EMA its gap fell steadily (1.68 at 1500 steps, N=500; gans/pggan.py), so it
    # trains that way. With R1 every step it was still falling at 2000 steps (N=200: 2.05, CAS
    # 0.72); with StyleGAN2's lazy R1 (every 16 steps, 1.3x faster steps) and 2500 steps its
    # gap reached 0.86 at N=200 (CAS 0.82). InfoGAN at N=200 kept falling to 2500 steps
    # (0.67, CAS 0.82), so it gets 2500 too. In laptop-4 (2026-12-01, idle machine, 64 min)
    # FastGAN passed the gate at step 100 and sat at 0.1-0.5 from step 200 on, yet trained
    # 1000-1200 steps (its noisy curve never flattens by the stop rule's measure sooner), and
    # CycleGAN passed at step 200-500 and was at 0.27 / 0.76 / 0.80 (N=50/200/500) by step 1000;
    # they now stop at 500 and 1000 steps, which takes the hour's profile under 60 minutes.
    # Step ceilings from CAS along training (benchmarks/cas_curves.py, seed 0 at N=50/200/500,
    # CAS every 200-250 steps; 2026-12-06, docs/performance.md): InfoGAN's CAS peaked at
    # 1000-1250 steps (0.815-0.842, against laptop-5's 0.770-0.820 at 2500) and fell by 1500,
    # so it stops at 1250; CycleGAN's at 800 was no lower than at 1000 less laptop-5's seed SD
    # in all three budgets (at 600 N=500 fell short), so 800. DCGAN at 1500 fell short at
    # N=200 (0.807 against 0.849 +- 0.025), PGGAN trained to 1500 reached 0.68-0.75 against
    # 0.80-0.82, and FastGAN's CAS was highest at its 500th step: those three keep theirs.
    # The stop rule ends a run earlier once its gap has
    # flattened below the gate (5 probes, 500 steps, without a 0.05 gain). bf16 autocast made
    # the step 1.6-1.9x faster (DCGAN,
    # FastGAN) and DCGAN's N=500 fill reached CAS AUC 0.89 with it (0.82 in fp32).
    # DiffAugment for every family: these are 50-500 image datasets (Zhao et al. 2020).
    fast = {"amp": True, "diffaugment": FEW_SHOT_AUG}
    return SweepConfig(
        profile="laptop",
        resolution=32,
        budgets=(50, 200, 500),
        arms=CPU_GRID_ARMS,
        gan=GANConfig(width=32, batch_size=64, steps=2500, checkpoint_every=250, log_every=50,
                      eval_every=100, stop_patience=5, stop_gain=0.05, min_steps=1000, **fast),
        gan_overrides={
            # channels_last where it measured faster (whole process, paired, 2026-12-06) and CAS
            # held: InfoGAN 0.97x the wall. PGGAN measured 0.92x, but in seed-24 (which ran it
            # with channels_last) its CAS at N=50 fell 0.067 below laptop-5's mean (2.5 SD),
            # so it stays off until seeds show CAS holds; DCGAN 1.00x, CycleGAN 1.02x and
            # FastGAN slower keep the default layout (docs/performance.md).
            "pggan": {"width": 16, "batch_size": 32, "steps": 2500, "r1": 0.1, "r1_every": 16,
                      "ema": 0.995, **PGGAN_OPTIM},
            "cyclegan": {"width": 16, "batch_size": 8, "steps": 800},
            "infogan": {"width": 16, "batch_size": 32, "steps": 1250, "channels_last": True},
            "fastgan": {"width": 16, "batch_size": 32, "steps": 500},
            # on request only (--arms ...,diffusion:ddpm): not in CPU_GRID_ARMS. Quality curves
            # at N = 500, width 16 (benchmarks/ddpm_curves.py, 2026-12-06, 2-core CPU): at lr
            # 1e-3 the gap (10 DDIM steps) was lowest at step 1000 (1.01) and rose to 5.16 by
            # 2000; at 3e-4 it fell all the way, to 1.10 at 2000. More DDIM steps did not
            # lower it (3e-4, step 2000: 1.10 at 10 steps, 2.62 at 25, 2.43 at 50), so fills
            # sample in the 10 steps the gate measured them with (4 ms an image a step); CAS
            # rose a little at 50 steps (0.676 -> 0.726, benchmarks/ddpm_sample_steps.py).
            "ddpm": {**DIFFUSION, "width": 16, "batch_size": 32, "steps": 2000, "lr": 3e-4,
                     "ema": 0.995, "sample_steps": 10, "probe_sample_steps": 10},
        },
        classifier=ClassifierConfig(epochs=10, patience=3),
    )


def _paper() -> SweepConfig:
    return SweepConfig(
        profile="paper",
        resolution=224,
        budgets=(10, 50, 100, 200, 250, 300, 500),
        arms=ALL_ARMS,
        seeds=(0, 1, 2, 3, 4),
        gan=GANConfig(width=64, batch_size=64, steps=10000, use_gpu=True, checkpoint_every=1000,
                      eval_every=500, stop_patience=6, min_steps=3000, amp=True),
        gan_overrides={
            "pggan": PGGAN_OPTIM,
            "cyclegan": {"batch_size": 4},  # the CycleGAN paper trains with batch 1
            "infogan": {"diffaugment": FEW_SHOT_AUG},
            "fastgan": {"diffaugment": FEW_SHOT_AUG},
            # A UNet of 128 channels at full size (up to 512 at 14 px, attention there), the
            # DDPM paper's Adam at the lr of its larger models, and the EMA it samples from
            "ddpm": {**DIFFUSION, "width": 128, "lr": 1e-4, "ema": 0.999},
        },
        classifier=ClassifierConfig(epochs=50, patience=8, use_gpu=True),
    )


def _overnight() -> SweepConfig:
    # The laptop grid with 3 seeds: the CPU significance run (about 3x the laptop's wall time;
    # run it in pieces with --resume where a session is shorter).
    return dataclasses.replace(_laptop(), profile="overnight", seeds=(0, 1, 2))


# The decisive run (docs/results.md): the primary comparison with enough seeds for a verdict per
# cell. The seeds-needed planner on laptop-6's 3 seeds (2026-12-06, margin +-0.02 AUC, Holm over
# 9 cells) put an equivalence verdict, were the true difference zero, at 7-14 seeds for DCGAN
# and FastGAN at N = 200 and 500 (45-51 at N = 50): 10 seeds. The grid narrows to the
# generators that pass the gate with the best CAS, DCGAN (seed-24: 0.82-0.85) and FastGAN
# (0.83-0.85), a primary family of 6 cells, and keeps every baseline, their combined arms and
# the shortcut probes. Out: CycleGAN (0.77-0.80, laptop-6's one "worse" cell), PGGAN (0.73-0.80
# at 1,336 s of slot time a seed), InfoGAN (0.80-0.83, the lowest recall, 0.22-0.30, a failed
# gate at N = 200) and the diffusion model: at the CPU settings (2000 steps, width 16; ddpm-500,
# 2026-12-06) its N = 500 fill scored CAS 0.676 (0.726 sampled in 50 DDIM steps), below every
# GAN, and each of its trainings costs about 8.5 min of a core (+16 min a seed).
DECISIVE_FAMILIES = ("gan:dcgan", "gan:fastgan")
DECISIVE_SEEDS = tuple(range(10))
DECISIVE_NAME = "decisive"


def _decisive() -> SweepConfig:
    lap = _laptop()
    arms = ("real", "oversample", "classic", *DECISIVE_FAMILIES,
            *(f"classic+{a}" for a in DECISIVE_FAMILIES), ALL_REAL,
            *(f"probe:{p}" for p in PROBE_NAMES))
    return dataclasses.replace(lap, profile="decisive", seeds=DECISIVE_SEEDS, arms=arms,
                               sweep_name=DECISIVE_NAME)


def _decisive_resnet20() -> SweepConfig:
    # The primary comparison again with ResNet-20, on the decisive sweep's very generators
    # (copied by --gans-from, not retrained): a verdict must hold for more than one classifier.
    d = _decisive()
    return dataclasses.replace(
        d, profile="decisive-resnet20", arms=("oversample", *DECISIVE_FAMILIES),
        classifier=dataclasses.replace(d.classifier, name="resnet20"),
        gans_from=DECISIVE_NAME, sweep_name=f"{DECISIVE_NAME}-resnet20")


PROFILES = {"smoke": _smoke, "laptop": _laptop, "overnight": _overnight, "paper": _paper,
            "decisive": _decisive, "decisive-resnet20": _decisive_resnet20}
# Profiles that test on an external set as well: a run of one names it (--external-test)
NEEDS_EXTERNAL = ("decisive", "decisive-resnet20")


def profile_config(name: str) -> SweepConfig:
    """The preset called `name`."""
    if name not in PROFILES:
        raise RayganError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]()
