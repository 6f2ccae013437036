"""A sweep's command-line options (`raygan run` and `raygan tune`): their definitions, and their
values to its SweepConfig: the profile, with every value given over it. Values arrive as the
command line spells them ("50,200,all", "isic=cards/isic2017.toml"); each bad one is a one-line
RayganError."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from raygan.artifacts import CONFIG_FILE
from raygan.bounds import Number, NumberList, help_text
from raygan.cell import ALL, ALL_REAL
from raygan.config import (
    CLASSIFIER_NAMES,
    GEOMETRIES,
    NAME_RULE,
    PROBE_NAMES,
    PROFILE_NAMES,
    SweepConfig,
    check_classes,
    check_external_name,
    check_name,
    check_primary,
    load_config,
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


def classes(text: str) -> tuple[str, ...]:
    """The NEGATIVE,POSITIVE class folders of --classes."""
    return check_classes(tuple(items(text, "--classes", "benign,malignant")))


def _budgets_and_arms(v: Mapping[str, Any], arms: tuple[str, ...]
                      ) -> tuple[tuple[int, ...] | None, tuple[str, ...]]:
    """The budgets of --budgets (None: not given) and the arms they leave the grid: `all`
    is the budget of the all-real arm (every real malignant training image), so it adds that
    arm; `--budgets all` alone is a grid of the all-real arm, whose budget it is."""
    if "budgets" not in v:
        return None, arms
    parts = items(v["budgets"], "--budgets", "50,200,all")
    counts = ints(",".join(b for b in parts if b != ALL), "--budgets")
    if ALL not in parts:
        return counts, arms
    arms = arms if ALL_REAL in arms else (*arms, ALL_REAL)
    counted = [a for a in arms if a != ALL_REAL]
    if not counts and counted:
        if "arms" in v:
            raise RayganError(f"--budgets all is the budget of the all-real arm alone; the arms "
                              f"{','.join(counted)} need counts of real images: pass e.g. "
                              "--budgets 50,200,all, or --arms all-real")
        arms = (ALL_REAL,)
    return counts, arms


def sweep_config(values: Mapping[str, Any], base: SweepConfig | None = None) -> SweepConfig:
    """The SweepConfig of `values["profile"]` (laptop), or `base`, with every other value given
    (not None) over it; `values` maps the options' dests (`vars()` of the parsed arguments) to
    their text."""
    from raygan.profiles import NEEDS_EXTERNAL, profile_config  # the GAN plug-ins load here

    v = {k: x for k, x in values.items() if x is not None}
    cfg = base if base is not None and "profile" not in v else \
        profile_config(v.get("profile", "laptop"))
    gan, clf = cfg.gan, cfg.classifier
    over = {field: v[opt] for field, opt in {
        "data": "data", "resolution": "resolution", "fill_target": "fill_target",
        "address": "address", "storage": "storage", "output": "output",
        "experiment": "experiment", "sweep_name": "name", "exclude_leaks": "exclude_leaks",
        "test_fraction": "test_fraction", "validation": "validation", "primary": "primary",
        "margin": "margin", "keep_external_duplicates": "keep_external_duplicates",
        "geometry": "geometry", "gans_from": "gans_from"}.items()
        if opt in v}
    if "classes" in v:
        over["classes"] = classes(v["classes"])
    if v.get("external_test"):
        over["external"] = external_tests(v["external_test"])
    if "arms" in v:
        over["arms"] = tuple(items(v["arms"], "--arms", "real,gan:dcgan"))
    if v.get("probes"):  # every probe, after the arms given or the profile's
        arms = over.get("arms", cfg.arms)
        over["arms"] = (*arms, *(a for a in (f"probe:{p}" for p in PROBE_NAMES) if a not in arms))
    budgets, over["arms"] = _budgets_and_arms(v, over.get("arms", cfg.arms))
    if budgets is not None:
        over["budgets"] = budgets
    if "seeds" in v:
        over["seeds"] = ints(",".join(items(v["seeds"], "--seeds", "0,1,2")), "--seeds")
    gan_flags = {k: v[opt] for k, opt in {
        "steps": "gan_steps", "batch_size": "gan_batch_size", "width": "gan_width",
        "num_workers": "gan_workers", "use_gpu": "gpu"}.items() if opt in v}
    gan = replace(gan, **gan_flags)
    # A value given on the command line holds for every family, over the profile's per-family
    # one; a tuned cell's (`family@budget`, from --gan-configs) holds over it.
    over["gan_overrides"] = {fam: {k: x for k, x in o.items() if "@" in fam or k not in gan_flags}
                             for fam, o in cfg.gan_overrides.items()}
    if v.get("gan_configs"):
        over["gan_overrides"].update(read_gan_configs(v["gan_configs"]))
    clf = replace(clf, **{k: v[opt] for k, opt in {"epochs": "clf_epochs", "name": "classifier",
                                                    "use_gpu": "gpu"}.items() if opt in v})
    if v.get("classifier_weights"):  # absolute, so a resume finds it; checked by prepare()
        clf = replace(clf, weights=os.path.abspath(os.path.expanduser(v["classifier_weights"])))
    out = replace(cfg, gan=gan, classifier=clf, **over)
    if out.profile in NEEDS_EXTERNAL and not out.external:
        raise RayganError(f"the {out.profile} profile tests on an external set as well: add "
                          "--external-test NAME=CARD, e.g. isic=ISIC2017/isic2017.toml "
                          "(docs/cards/isic2017.toml)")
    if "primary" in v:  # named on the command line: its reference must be in the grid
        check_primary(out.primary, out.margin, out.arms)
    return out


# What a resumed sweep may be told anew: where it runs and what it prints. Every other option
# would change what it computes, which its saved config.json holds; --seeds adds seeds (run).
RESUME_FREE = ("name", "output", "address", "storage", "data", "resume", "dry_run", "verbose")
# SweepConfig fields that say where a sweep runs or what it is called, not what it computes.
_WHERE = ("sweep_name", "output", "address", "storage", "data", "data_fingerprint", "seeds")


def _computes(cfg: SweepConfig, saved: SweepConfig) -> dict[str, Any]:
    """What `cfg` computes, to compare with the `saved` config of a sweep: every field but
    where it runs, with the GAN settings as each of the saved grid's GANs trains with them."""
    from raygan.data.dataset import CLASSES

    d = {k: x for k, x in cfg.to_dict().items() if k not in (*_WHERE, "gan", "gan_overrides")}
    d["classes"] = list(cfg.classes or CLASSES)  # none named: the Kaggle layout's
    d["gans"] = {(n, b): dataclasses.asdict(cfg.gan_config(n, b))
                 for n in saved.gan_names for b in (None, *saved.budgets)}
    return d


def resume_conflicts(values: Mapping[str, Any], saved: SweepConfig,
                     adds_seeds: bool = True) -> list[str]:
    """The options in `values` (those typed: not None) that would change what the
    `saved` sweep computes, as `--flag value`; --seeds only where a resume cannot add seeds."""
    free = RESUME_FREE + (("seeds",) if adds_seeds else ())
    typed = {k: x for k, x in values.items() if x is not None and k not in free}
    base = _computes(saved, saved)
    out = []
    for dest, value in typed.items():
        flag = f"--{dest.replace('_', '-')}"
        if dest == "profile":
            same = value == saved.profile
        elif dest == "seeds":
            same = ints(value, "--seeds") == saved.seeds
        elif dest == "download":  # a resumed sweep reads the data it started on
            same = not value
        else:
            same = _computes(sweep_config({dest: value}, saved), saved) == base
        if same:
            continue
        if isinstance(value, bool):  # --gpu / --no-gpu, --exclude-leaks, --download
            out.append(flag if value else f"--no-{flag[2:]}")
        else:
            out.append(f"{flag} {' '.join(value) if isinstance(value, list) else value}")
    return out


def check_resume(values: Mapping[str, Any], adds_seeds: bool = True) -> None:
    """On --resume: a RayganError naming every option typed in `values` (the parsed command
    line) that would change what the saved sweep computes, unless it equals the saved value.
    A missing --name or config.json is left to the resume itself, which names it."""
    name = values.get("name")
    if not name:
        return
    output = values.get("output") or SweepConfig.output
    path = Path(output).resolve() / check_name(name) / CONFIG_FILE
    if not path.is_file():
        return
    bad = resume_conflicts(values, load_config(path), adds_seeds)
    if bad:
        seeds = ("only --seeds may add seeds" if adds_seeds
                 else "raygan tune adds no seeds on resume")
        them = "it" if len(bad) == 1 else "them"
        raise RayganError(f"--resume continues sweep {name!r} as its {path} says, so "
                          f"{', '.join(bad)} cannot change; drop {them} or start a new sweep "
                          f"under another --name ({seeds}; --data, --address, --storage may "
                          "move it)")


def add_data_options(p: argparse.ArgumentParser, resolution: int | None = None
                     ) -> argparse.ArgumentParser:
    """The options that say how a dataset is read (shared by a sweep and `raygan data check`):
    --resolution (default `resolution`, else the profile's), --classes, --test-fraction,
    --geometry."""
    p.add_argument("--resolution", type=Number("resolution"), default=resolution,
                   help=help_text("resolution", "image side in px", resolution))
    p.add_argument("--classes", help="NEGATIVE,POSITIVE class folders of a class-folder dataset;\n"
                                     "the second is the scarce one (benign,malignant)")
    p.add_argument("--test-fraction", type=Number("test_fraction"),
                   help=help_text("test_fraction", "share of each class carved as test where "
                                                   "the data\nhas no test split", 0.2))
    p.add_argument("--geometry", choices=GEOMETRIES,
                   help="how non-square images become square: crop (the centre, aspect ratio\n"
                        "kept; default), squash or pad; a dataset card's geometry key holds")
    return p


def add_sweep_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of a sweep (shared by `run` and `tune`)."""
    # Every value but the flags is None unless typed (the profile's holds): a resume refuses
    # what was typed and would change the saved sweep.
    p.add_argument("--profile", help=f"preset: {', '.join(PROFILE_NAMES)} (laptop)")
    p.add_argument("--data", help="dataset root (Kaggle layout); else $RAYGAN_DATA, else "
                                  "./data/skin-cancer-mvb")
    add_data_options(p)
    p.add_argument("--budgets", type=NumberList("budgets", (ALL,)),
                   help=help_text("budgets", "real malignant images kept, e.g. 50,200,500 ('all' "
                                             "is the\nall-real arm's: it adds that arm)"))
    p.add_argument("--arms", help="e.g. real,oversample,classic,gan:dcgan,all-real")
    p.add_argument("--seeds", type=NumberList("seeds"),
                   help=help_text("seeds", "e.g. 0,1,2; each redraws the subset and re-inits "
                                           "every model;\nwith --resume: seeds to add to the "
                                           "sweep's grid"))
    p.add_argument("--fill-target", type=Number("fill_target"),
                   help=help_text("fill_target", "malignant count after filling (0 = all real)"))
    for flag, key, text in (("--gan-steps", "gan.steps", "optimizer steps per GAN"),
                            ("--gan-batch-size", "gan.batch_size",
                             "GAN batch, summed over DDP workers"),
                            ("--gan-width", "gan.width", "channels of the full-size GAN layers"),
                            ("--gan-workers", "gan.num_workers", "Ray Train DDP workers per GAN"),
                            ("--clf-epochs", "classifier.epochs",
                             "classifier epochs (upper bound)")):
        p.add_argument(flag, type=Number(key), help=help_text(key, text))
    p.add_argument("--probes", action="store_true", default=None,
                   help="add every shortcut probe to the arms (lesion occluded, border alone,\n"
                        "colour alone): probe:" + ", probe:".join(PROBE_NAMES))
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
    p.add_argument("--margin", type=Number("margin"),
                   help=help_text("margin", "equivalence margin of the primary comparison, in "
                                            "its metric", 0.02))
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
