"""The memory each GAN worker and classifier trial reserves from Ray, against measurements."""

import json
from pathlib import Path

import pytest

from raygan.orchestrate.memory import MIB, classifier_trial_bytes, gan_worker_bytes
from raygan.profiles import profile_config

MEASURED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "peak_memory.json"
RAY_WORKER_MIB = 80  # a Ray worker's RSS beyond a plain process with the same imports (52 seen)


@pytest.mark.parametrize("row", json.loads(MEASURED.read_text())["rows"],
                         ids=lambda r: f"{r['name']}-{r['resolution']}-w{r['width']}-b{r['batch']}")
def test_reservation_covers_every_measured_peak(row):
    if row["kind"] == "gan":
        reserved = gan_worker_bytes(row["name"], row["width"], row["batch"], 1,
                                    row["resolution"], use_gpu=False)
    else:
        reserved = classifier_trial_bytes(row["batch"], row["resolution"], use_gpu=False)
    assert reserved >= (row["peak_mib"] + RAY_WORKER_MIB) * MIB


@pytest.mark.parametrize("profile", ["smoke", "laptop"])
def test_cpu_profiles_still_run_two_jobs_side_by_side(profile):
    """Ray offers about 70 % of a machine's free memory (16 GiB of 24 here): the largest
    training or classifier trial of a CPU profile reserves little enough that two run side
    by side on a small machine (4 GiB for two)."""
    cfg = profile_config(profile)
    largest = max(gan_worker_bytes(g, c.width, c.batch_size, c.num_workers, cfg.resolution,
                                   c.use_gpu) * c.num_workers
                  for g in cfg.gan_names for c in [cfg.gan_config(g)])
    clf = classifier_trial_bytes(cfg.classifier.batch_size, cfg.resolution, False)
    assert 2 * max(largest, clf) <= 4 * 1024 * MIB


def test_more_pixels_width_or_batch_reserve_more_and_gpu_less():
    base = gan_worker_bytes("fastgan", 16, 32, 1, 64, False)
    assert gan_worker_bytes("fastgan", 16, 32, 1, 224, False) > base
    assert gan_worker_bytes("fastgan", 32, 32, 1, 64, False) > base
    assert gan_worker_bytes("fastgan", 16, 64, 1, 64, False) > base
    assert gan_worker_bytes("fastgan", 16, 64, 2, 64, False) == base  # half a batch each
    assert gan_worker_bytes("fastgan", 16, 32, 1, 64, True) < base  # activations on the GPU
    assert classifier_trial_bytes(64, 224, False) > classifier_trial_bytes(64, 64, False)
