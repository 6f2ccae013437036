"""A sweep's command-line options (`raygan run` and `raygan tune`): their definitions, and their
values to its SweepConfig: the profile, with every value given over it. Values arrive as the
command line spells them ("50,200,all", "isic=cards/isic2017.toml"); each bad one is a one-line
RayganError."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from raygan.config import (
    CLASSIFIER_NAMES,
    GEOMETRIES,
    NAME_RULE,
    PROBE_NAMES,
    PROFILE_NAMES,
    SweepConfig,
    check_external_name,
    check_primary,
)
from raygan.errors import RayganError


def items(text: str, flag: str, example: str) -> list[str]:
    """The comma-separated values of `flag`; an empty list is an error, not the profile's."""
    parts = [v.strip() for v in text.split(",") if v.strip()]
    if not parts:
        raise RayganError(f"{flag} {text!r} names nothing; pass e.g. {flag} {example}, or leave "
                          "the flag out for the profile's")
    return parts


def ints(text: str, what: str) -> tuple[int, ...]:
    """The comma-separated integers of `text` (`what` names them in the error)."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise RayganError(f"{what} {text!r} must be comma-separated integers, e.g. 0,1,2") from None


def read_gan_configs(path: str) -> dict:
    """The per-cell GAN settings of a --gan-configs file (what `raygan tune` writes)."""
    try:
        data = json.loads(open(path).read())
    except (OSError, ValueError) as exc:
        raise RayganError(f"cannot read --gan-configs {path}: {exc}; pass the "
                          "best_gan_configs.json that raygan tune wrote") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RayganError(f"--gan-configs {path} must map '<gan>@<budget>' to settings, e.g. "
                          '{"dcgan@50": {"batch_size": 32, "steps": 600}}')
    return data


def external_tests(values: list[str]) -> dict[str, str]:
    """NAME=DATASET pairs of --external-test; paths made absolute so a resume finds them."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, spec = value.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise RayganError(f"--external-test {value!r} is not NAME=DATASET; pass e.g. "
                              "--external-test isic=cards/isic2017.toml")
        name = check_external_name(name.strip())
        if name in out:
            raise RayganError(f"--external-test names {name!r} twice; give each set its own name")
        out[name] = os.path.abspath(os.path.expanduser(spec.strip()))
    return out


def sweep_config(values: Mapping[str, Any]) -> SweepConfig:
    """The SweepConfig of `values["profile"]` (laptop) with every other value given (not None)
    over it; `values` maps the options' dests (`vars()` of the parsed arguments) to their text."""
    from raygan.profiles import profile_config  # the GAN plug-ins (torch) load only here

    v = {k: x for k, x in values.items() if x is not None}
    cfg = profile_config(v.get("profile", "laptop"))
    gan, clf = cfg.gan, cfg.classifier
    over = {"data": v.get("data") or "", "resolution": v.get("resolution"),
            "fill_target": v.get("fill_target"), "address": v.get("address"),
            "storage": v.get("storage"), "output": v.get("output"),
            "experiment": v.get("experiment"), "sweep_name": v.get("name"),
            "exclude_leaks": v.get("exclude_leaks"), "test_fraction": v.get("test_fraction"),
            "validation": v.get("validation"), "primary": v.get("primary"),
            "margin": v.get("margin"),
            "keep_external_duplicates": v.get("keep_external_duplicates"),
            "geometry": v.get("geometry"), "gans_from": v.get("gans_from")}
    if "classes" in v:
        over["classes"] = tuple(items(v["classes"], "--classes", "benign,malignant"))
    if v.get("external_test"):
        over["external"] = external_tests(v["external_test"])
    if "budgets" in v:
        parts = items(v["budgets"], "--budgets", "50,200,all")
        over["budgets"] = ints(",".join(b for b in parts if b != "all"), "budgets")
        if "all" in parts and "all-real" not in (v.get("arms") or ",".join(cfg.arms)):
            over["arms"] = (*cfg.arms, "all-real")
    if "arms" in v:
        over["arms"] = tuple(items(v["arms"], "--arms", "real,gan:dcgan"))
    if v.get("probes"):  # every probe, after the arms given or the profile's
        arms = over.get("arms", cfg.arms)
        over["arms"] = (*arms, *(a for a in (f"probe:{p}" for p in PROBE_NAMES) if a not in arms))
    if "seeds" in v:
        over["seeds"] = ints(",".join(items(v["seeds"], "--seeds", "0,1,2")), "seeds")
    gan_flags = {k: v[opt] for k, opt in {
        "steps": "gan_steps", "batch_size": "gan_batch_size", "width": "gan_width",
        "num_workers": "gan_workers", "use_gpu": "gpu"}.items() if opt in v}
    gan = replace(gan, **gan_flags)
    # A value given on the command line holds for every family, over the profile's per-family one.
    over["gan_overrides"] = {fam: {k: x for k, x in o.items() if k not in gan_flags}
                             for fam, o in cfg.gan_overrides.items()}
    if v.get("gan_configs"):
        over["gan_overrides"].update(read_gan_configs(v["gan_configs"]))
    clf = replace(clf, **{k: v[opt] for k, opt in {"epochs": "clf_epochs", "name": "classifier",
                                                    "use_gpu": "gpu"}.items() if opt in v})
    if v.get("classifier_weights"):  # absolute, so a resume finds it; checked by prepare()
        clf = replace(clf, weights=os.path.abspath(os.path.expanduser(v["classifier_weights"])))
    out = replace(cfg, gan=gan, classifier=clf, **{k: x for k, x in over.items() if x is not None})
    if "primary" in v:  # named on the command line: its reference must be in the grid
        check_primary(out.primary, out.margin, out.arms)
    return out


def add_sweep_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of a sweep (shared by `run` and `tune`)."""
    p.add_argument("--profile", default="laptop",
                   help=f"preset: {', '.join(PROFILE_NAMES)} (laptop)")
    p.add_argument("--data", help="dataset root (Kaggle layout); else $RAYGAN_DATA, else "
                                  "./data/skin-cancer-mvb")
    p.add_argument("--resolution", type=int, help="image side in px: 32, 64, 128 or 224")
    p.add_argument("--budgets", help="real malignant images kept, e.g. 50,200,500 ('all' adds the "
                                     "all-real arm)")
    p.add_argument("--arms", help="e.g. real,oversample,classic,gan:dcgan,all-real")
    p.add_argument("--probes", action="store_true", default=None,
                   help="add every shortcut probe to the arms (lesion occluded, border alone,\n"
                        "colour alone): probe:" + ", probe:".join(PROBE_NAMES))
    p.add_argument("--geometry", choices=GEOMETRIES,
                   help="how non-square images become square: crop (the centre, aspect ratio\n"
                        "kept; default), squash or pad; a dataset card's geometry key holds")
    p.add_argument("--seeds", help="e.g. 0,1,2; each redraws the subset and re-inits every model;\n"
                                   "with --resume: seeds to add to the sweep's grid")
    p.add_argument("--fill-target", type=int, help="malignant count after filling (0 = all real)")
    p.add_argument("--gan-steps", type=int, help="optimizer steps per GAN")
    p.add_argument("--gan-batch-size", type=int, help="GAN batch, summed over DDP workers")
    p.add_argument("--gan-width", type=int, help="channels of the widest GAN layer")
    p.add_argument("--gan-workers", type=int, help="Ray Train DDP workers per GAN")
    p.add_argument("--clf-epochs", type=int, help="classifier epochs (upper bound)")
    p.add_argument("--classifier", choices=CLASSIFIER_NAMES,
                   help="the downstream classifier of every trial: cnn (the study's 2-block\n"
                        "CNN, default) or resnet20 (CIFAR ResNet-20, He et al. 2016)")
    p.add_argument("--classifier-weights", metavar="FILE",
                   help="initial weights of every trial's classifier: a local state dict or\n"
                        "classifier.pt of the same --classifier at the same resolution")
    p.add_argument("--gan-configs", help="JSON of per-cell GAN settings, e.g. the\n"
                                         "best_gan_configs.json that raygan tune writes")
    p.add_argument("--exclude-leaks", action="store_true", default=None,
                   help="drop test images that re-capture a training lesion (leakage audit)")
    p.add_argument("--classes", help="NEGATIVE,POSITIVE class folders of a class-folder dataset;\n"
                                     "the second is the scarce one (benign,malignant)")
    p.add_argument("--test-fraction", type=float,
                   help="share of each class carved as test where the data has no test split")
    p.add_argument("--validation", choices=("budget", "study"),
                   help="budget: validation malignant images are part of the N (default);\n"
                        "study: a fixed 15 %% pool outside the budgets, as the study did")
    p.add_argument("--external-test", action="append", metavar="NAME=DATASET",
                   help="also test every classifier on DATASET (any source: folder or card);\n"
                        "repeatable; metrics under ext/NAME/ in MLflow")
    p.add_argument("--keep-external-duplicates", action="store_true", default=None,
                   help="keep external images that duplicate a training image (dropped)")
    p.add_argument("--primary", metavar="METRIC:REF",
                   help="the primary comparison, declared before the run: every generative\n"
                        "fill against REF in METRIC at each budget, one Holm family\n"
                        "(auc:oversample; METRIC auc or acc, REF oversample, real or classic)")
    p.add_argument("--margin", type=float,
                   help="equivalence margin of the primary comparison, in its metric (0.02)")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None,
                   help="train on GPUs (default: as the profile says)")
    p.add_argument("--address", help="Ray cluster to join, e.g. auto; else $RAY_ADDRESS, else\n"
                                     "(or with 'local') a new local Ray of the sweep's own")
    p.add_argument("--storage", help="Tune/Train storage_path (shared storage on a cluster)")
    p.add_argument("--output", help="folder for config.json and the results tables (runs)")
    p.add_argument("--experiment", help="MLflow experiment name (raygan)")
    p.add_argument("--name", help="sweep name: MLflow parent run and results sub-folder;\n"
                                  f"{NAME_RULE}")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted sweep --name (its saved config.json holds;\n"
                        "finished runs are kept, unfinished ones run again)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and the "
                                                          "number of trials, then exit")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show Ray's trial tables and the workers' logs (default: one line per\n"
                        "finished trial)")
    return p
