"""raygan.config.validate: every documented mistake raises RayganError; the profiles pass."""

from __future__ import annotations

import dataclasses
import json

import pytest

from raygan.config import SweepConfig, validate
from raygan.errors import RayganError
from raygan.gans import REGISTRY
from raygan.profiles import PROFILES, profile_config


def _smoke(**changes) -> SweepConfig:
    return dataclasses.replace(profile_config("smoke"), **changes)


def test_registry_has_dcgan() -> None:
    assert "dcgan" in REGISTRY


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_are_valid(name: str) -> None:
    cfg = PROFILES[name]()
    assert cfg.profile == name
    assert validate(cfg, REGISTRY) is cfg


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"arms": ("real", "mixup")}, r"unknown arm 'mixup'; known arms: .*gan:dcgan"),
        ({"arms": ("real", "gan:nope")}, r"unknown GAN 'nope' in arm 'gan:nope'.*dcgan"),
        ({"resolution": 50}, r"resolution must be one of 32, 64, 128 or 224, got 50"),
        ({"budgets": (10, 0)}, r"budget must be between 1 and 100,000, got 0"),
        ({"budgets": (-3,)}, r"budget must be between 1 and 100,000, got -3"),
        ({"arms": ("real", "classic", "real")}, r"arms repeat"),
        ({"arms": ()}, r"no arms given"),
        ({"seeds": ()}, r"no seeds given"),
        ({"seeds": (0, 0)}, r"seeds repeat: 0,0"),
        ({"seeds": (-1,)}, r"seed must be between 0 and 2,147,483,647, got -1"),
        ({"val_fraction": 0.7}, r"val_fraction must lie in \(0, 0.5\), got 0.7"),
        ({"val_fraction": 0.0}, r"val_fraction must lie in"),
        ({"fill_target": -1}, r"fill_target must be between 0 and 100,000, got -1"),
        ({"budgets": ()}, r"no budgets given"),
    ],
    ids=[
        "unknown-arm", "unknown-gan", "resolution-50", "budget-0", "budget-neg3",
        "duplicate-arms", "no-arms", "empty-seeds", "duplicate-seeds", "negative-seed",
        "val-fraction-0.7", "val-fraction-0", "negative-fill", "no-budgets",
    ],
)
def test_invalid_values_raise(changes: dict, match: str) -> None:
    with pytest.raises(RayganError, match=match):
        validate(_smoke(**changes), REGISTRY)


def test_all_real_alone_needs_no_budgets() -> None:
    cfg = _smoke(arms=("all-real",), budgets=())
    assert validate(cfg, REGISTRY) is cfg


@pytest.mark.parametrize("field", ["steps", "batch_size", "lr", "width"])
def test_non_positive_gan_values_raise(field: str) -> None:
    cfg = _smoke()
    cfg = dataclasses.replace(cfg, gan=dataclasses.replace(cfg.gan, **{field: 0}))
    with pytest.raises(RayganError, match=rf"gan\.{field} must (be between|lie in) .*got 0"):
        validate(cfg, REGISTRY)


def test_non_positive_classifier_value_raises() -> None:
    cfg = _smoke()
    cfg = dataclasses.replace(cfg, classifier=dataclasses.replace(cfg.classifier, epochs=0))
    with pytest.raises(RayganError, match=r"classifier\.epochs must be between 1 and 1,000, got 0"):
        validate(cfg, REGISTRY)


def test_gan_batch_smaller_than_workers_raises() -> None:
    cfg = _smoke()
    cfg = dataclasses.replace(cfg, gan=dataclasses.replace(cfg.gan, batch_size=2, num_workers=4))
    with pytest.raises(RayganError, match="smaller than its 4 workers"):
        validate(cfg, REGISTRY)


def test_gan_arm_unknown_to_an_empty_registry() -> None:
    with pytest.raises(RayganError, match="unknown GAN 'dcgan'"):
        validate(_smoke(), {})
    cfg = _smoke(arms=("real", "oversample", "classic", "all-real"), gan_overrides={})
    assert validate(cfg, {}) is cfg


def test_cell_overrides_apply_over_family_ones() -> None:
    cfg = _smoke(gan_overrides={"dcgan": {"steps": 7, "width": 4}, "dcgan@20": {"steps": 9}})
    assert validate(cfg, REGISTRY) is cfg
    assert cfg.gan_config("dcgan", 20).steps == 9 and cfg.gan_config("dcgan", 20).width == 4
    assert cfg.gan_config("dcgan", 50).steps == 7 and cfg.gan_config("dcgan").steps == 7
    for bad in ({"nogan@20": {"steps": 9}}, {"dcgan@x": {"steps": 9}}):
        with pytest.raises(RayganError, match="names no GAN family"):
            validate(_smoke(gan_overrides=bad), REGISTRY)
    with pytest.raises(RayganError, match=r"gan override dcgan@20\.steps must be between 1 "
                                          r"and 1,000,000, got 0"):
        validate(_smoke(gan_overrides={"dcgan@20": {"steps": 0}}), REGISTRY)


def test_unknown_profile_raises() -> None:
    with pytest.raises(RayganError, match="unknown profile 'huge'"):
        profile_config("huge")


@pytest.mark.parametrize(("changes", "match"), [
    ({"validation": "val"}, r"unknown validation 'val'; use one of: budget, study"),
    ({"classes": ("nv",)}, r"name two different classes"),
    ({"classes": ("nv", "nv")}, r"name two different classes"),
    ({"test_fraction": 1.0}, r"test_fraction must lie in \(0, 1\), got 1.0"),
    ({"external": {"a/b": "x"}}, r"external test name 'a/b' is not a plain name"),
    ({"external": {"isic": ""}}, r"external test isic names no dataset"),
])
def test_data_source_values_are_checked(changes: dict, match: str) -> None:
    with pytest.raises(RayganError, match=match):
        validate(_smoke(**changes), REGISTRY)


def test_validation_is_recorded_and_old_configs_read_as_study() -> None:
    cfg = _smoke(classes=("nv", "mel"), external={"isic": "cards/isic.toml"})
    assert cfg.validation == "budget"
    back = SweepConfig.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and back.classes == ("nv", "mel")
    old = cfg.to_dict()
    del old["validation"]  # a config.json written before the choice existed
    assert SweepConfig.from_dict(old).validation == "study"


@pytest.mark.parametrize("primary, margin, arms, message", [
    ("auc", 0.02, (), "is not METRIC:REF"),
    ("f1:oversample", 0.02, (), "is not METRIC:REF"),
    ("auc:gan:dcgan", 0.02, (), "is not METRIC:REF"),
    ("auc:oversample", 0.0, (), r"--margin must lie in \(0, 0.5\), got 0.0"),
    ("auc:oversample", 0.7, (), r"--margin must lie in \(0, 0.5\), got 0.7"),
    ("auc:real", 0.02, ("oversample", "gan:dcgan"), "which the grid lacks"),
])
def test_a_bad_primary_comparison_is_refused_before_the_run(primary, margin, arms, message):
    from raygan.config import check_primary

    with pytest.raises(RayganError, match=message):
        check_primary(primary, margin, arms)


def test_the_primary_comparison_is_saved_and_a_config_without_one_says_so():
    from raygan.config import SweepConfig
    from raygan.eval.verdicts import Primary

    cfg = profile_config("laptop")
    back = SweepConfig.from_dict(json.loads(cfg.to_json()))
    assert (back.primary, back.margin, back.primary_declared) == ("auc:oversample", 0.02, True)
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("primary", "margin",
                                                                 "primary_declared")}
    legacy = Primary.of_config(SweepConfig.from_dict(old))
    assert not legacy.declared and "raygan's default stands in" in legacy.describe()


def test_a_grid_of_gans_alone_declares_no_comparison():
    from raygan.config import check_primary

    assert check_primary("auc:oversample", 0.02, ("gan:dcgan",)) == ("auc", "oversample")


def test_a_named_primary_needs_its_reference_and_the_default_stays_quiet():
    from raygan.options import sweep_config

    with pytest.raises(RayganError, match="which the grid lacks"):
        sweep_config({"arms": "real,gan:dcgan", "primary": "auc:oversample"})
    cfg = sweep_config({"arms": "real,gan:dcgan,all-real"})  # the default, no oversample arm
    assert validate(cfg, REGISTRY).primary == "auc:oversample"


def test_the_profiles_are_the_names_the_command_line_lists_and_their_arms_the_registrys():
    from raygan.config import PROFILE_NAMES
    from raygan.gans import GENERATED_ARMS
    from raygan.profiles import ALL_ARMS

    assert tuple(PROFILES) == PROFILE_NAMES
    assert ALL_ARMS == ("real", "oversample", "classic", *GENERATED_ARMS, "all-real")


def test_the_decisive_profile_narrows_the_families_and_keeps_every_baseline_and_probe():
    """The decisive run's grid: the two generators it keeps, every baseline, their combined
    arms and every shortcut probe, ten seeds, under the name its ResNet-20 twin copies from."""
    from raygan.cell import is_generated
    from raygan.config import PROBE_NAMES
    from raygan.profiles import DECISIVE_FAMILIES

    cfg = validate(profile_config("decisive"), REGISTRY)
    generated = [a for a in cfg.arms if is_generated(a)]
    assert generated == list(DECISIVE_FAMILIES) == ["gan:dcgan", "gan:fastgan"]
    for arm in ("real", "oversample", "classic", "all-real",
                *(f"classic+{a}" for a in generated), *(f"probe:{p}" for p in PROBE_NAMES)):
        assert arm in cfg.arms
    assert len(cfg.seeds) == len(set(cfg.seeds)) >= 10
    assert cfg.budgets == (50, 200, 500) and cfg.resolution == 32
    assert cfg.primary == "auc:oversample" and cfg.sweep_name == "decisive"
    lap = profile_config("laptop")
    assert all(cfg.gan_config(g) == lap.gan_config(g) for g in cfg.gan_names)

    twin = validate(profile_config("decisive-resnet20"), REGISTRY)
    assert twin.classifier.name == "resnet20" and cfg.classifier.name == "cnn"
    assert twin.gans_from == cfg.sweep_name != twin.sweep_name
    assert twin.arms == ("oversample", *generated)  # the primary comparison, nothing else
    assert twin.seeds == cfg.seeds and twin.budgets == cfg.budgets
    assert twin.primary == cfg.primary and twin.margin == cfg.margin


@pytest.mark.parametrize("name", ["decisive", "decisive-resnet20"])
def test_a_decisive_run_without_an_external_set_is_refused(name):
    from raygan.options import sweep_config

    with pytest.raises(RayganError, match="--external-test NAME=CARD"):
        sweep_config({"profile": name})
    cfg = sweep_config({"profile": name, "external_test": ["isic=card.toml"]})
    assert set(cfg.external) == {"isic"}
