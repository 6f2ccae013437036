"""How much memory each Ray Train worker and each classifier trial reserves from Ray.

Ray packs trials onto a node by the resources they ask for; without a `memory` request it
starts as many as the node has CPUs for, and at 224 px two GAN trainings side by side outgrew
the machine until Ray's memory monitor killed workers. So each worker and trial asks for its
estimated peak: a fixed part plus activations, linear in images per worker x pixels (x the
GAN's width), with a slope per GAN family and per classifier that its class declares
(`memory_slope_mib`).

The figures come from `benchmarks/peak_memory.py` (2026-12-01, the ddpm family's 2026-12-06;
2-core AMD EPYC, 24 GiB, no GPU, torch 2.14, 1 thread): peak RSS of a fresh process training
each family for 3 steps at 32 and 64 px, widths 8 and 16, batches 16 and 64
(results/peak_memory.json). The slope of a family is the larger of its two measured ones
(between batch 16 and 64 at width 16, at 32 px and at 64 px); with it, the formula covers every
measured point. Above 64 px it extrapolates: an estimate, not a measurement. On a GPU the
activations live in GPU memory, which Ray does not count, so a GPU worker reserves the fixed
part only.

The classifiers' slopes come from `benchmarks/classifier_fit.py` (peak RSS of a fresh process
fitting one epoch of 2637 random images, batch 64, 1 thread, at 32 and 64 px; each slope
covers both points with the fixed part below).
"""

from __future__ import annotations

from raygan.classifiers import DEFAULT as DEFAULT_CLASSIFIER
from raygan.classifiers import REGISTRY as CLASSIFIERS
from raygan.gans import REGISTRY

MIB = 2**20
# A Ray worker with torch and raygan imported: 935 MiB measured (a plain process 713-886 MiB),
# plus 192 MiB for weights, optimizer state and allocator slack at the measured widths (the
# most any measured point needed beyond the activation term was 150 MiB).
PROCESS_MIB = 1024 + 192
NUM_IMAGES = 2637  # training images of the dataset: what a trial may hold, and copy, at most


def gan_worker_bytes(gan: str, width: int, batch_size: int, num_workers: int, resolution: int,
                     use_gpu: bool) -> int:
    """Peak memory of one Ray Train worker of a GAN training (its uint8 real subset and benign
    context, at most half the training images, held twice; its share of the batch's
    activations on CPU)."""
    images = NUM_IMAGES * 3 * resolution**2
    per_worker = -(-batch_size // num_workers)
    activations = 0.0 if use_gpu else (
        REGISTRY[gan].memory_slope_mib * per_worker * resolution**2 * width * MIB)
    return int(PROCESS_MIB * MIB + images + activations)


def classifier_trial_bytes(batch_size: int, resolution: int, use_gpu: bool,
                           classifier: str = DEFAULT_CLASSIFIER) -> int:
    """Peak memory of one trial of `classifier` (the training, arm and test images, about three
    times the training split in uint8, plus activations on CPU, at the classifier's slope)."""
    images = 3 * NUM_IMAGES * 3 * resolution**2
    slope = CLASSIFIERS[classifier].memory_slope_mib
    activations = 0.0 if use_gpu else slope * batch_size * resolution**2 * MIB
    return int(PROCESS_MIB * MIB + images + activations)
