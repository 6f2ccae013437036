"""A sweep's command-line values (`raygan run` and `raygan tune`) to its SweepConfig: the
profile, with every value given over it. Values arrive as the command line spells them
("50,200,all", "isic=cards/isic2017.toml"); each bad one is a one-line RayganError."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from raygan.config import SweepConfig, check_external_name, check_primary, profile_config
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
            "keep_external_duplicates": v.get("keep_external_duplicates")}
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
    clf = replace(clf, **{k: v[opt] for k, opt in {"epochs": "clf_epochs",
                                                    "use_gpu": "gpu"}.items() if opt in v})
    out = replace(cfg, gan=gan, classifier=clf, **{k: x for k, x in over.items() if x is not None})
    if "primary" in v:  # named on the command line: its reference must be in the grid
        check_primary(out.primary, out.margin, out.arms)
    return out
