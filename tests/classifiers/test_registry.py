"""The contract of every registered classifier: it fits, predicts probabilities, saves and
loads to the same predictions, is deterministic per seed and starts from given weights; and
the saved state and initial-weights files name and check the architecture."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from raygan.bounds import BOUNDS
from raygan.classifiers import (
    DEFAULT,
    REGISTRY,
    Classifier,
    TwoBlockCNN,
    build_classifier,
    check_classifier_name,
    classifier_state,
    fit_classifier,
    load_classifier,
    predict_proba,
    read_weights,
)
from raygan.config import CLASSIFIER_NAMES, ClassifierConfig, SweepConfig
from raygan.errors import RayganError

NAMES = list(REGISTRY)
SIDE = 16  # px: small enough for a few CPU steps, large enough for both networks' poolings


def _toy(n: int, seed: int, side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(60, 140, (n, 3, side, side)).astype(np.uint8)
    q = side // 4
    x[y == 1, :, q : side - q, q : side - q] //= 3  # malignant: a dark centre
    return x, y.astype(np.int64)


def _cfg(name: str, **kw) -> ClassifierConfig:
    return ClassifierConfig(name=name, **{"epochs": 2, "patience": 2, "batch_size": 16, **kw})


def _fit(name: str, seed: int = 0, **kw):
    x, y = _toy(48, 0)
    xv, yv = _toy(16, 1)
    return fit_classifier(_cfg(name, **{k: v for k, v in kw.items() if k != "init"}), x, y, xv,
                          yv, seed, init=kw.get("init"))


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # what every reader of classifier.pt does


def test_registry_is_the_configs_list_and_the_default_is_the_studys_cnn():
    assert tuple(REGISTRY) == CLASSIFIER_NAMES
    assert DEFAULT == "cnn" and REGISTRY[DEFAULT] is TwoBlockCNN
    assert ClassifierConfig().name == DEFAULT
    # A config.json written before the key existed reads as the study's CNN.
    assert SweepConfig.from_dict({"classifier": {"epochs": 3}}).classifier.name == DEFAULT


def test_unknown_name_is_one_line_listing_the_known_ones():
    with pytest.raises(RayganError) as err:
        check_classifier_name("vgg16")
    msg = str(err.value)
    assert "\n" not in msg and "'vgg16'" in msg and all(n in msg for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_predicts_probabilities(name):
    fit = _fit(name)
    assert isinstance(fit.model, Classifier) and fit.model.name == name
    assert 1 <= fit.best_epoch <= 2 and len(fit.history) == 2
    assert all(np.isfinite(h["train/loss"]) for h in fit.history)
    xt, _ = _toy(10, 2)
    p = predict_proba(fit.model, xt)
    assert p.shape == (10,) and p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1))
    assert predict_proba(fit.model, xt[:0]).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_penultimate_features_feed_the_logits(name):
    model = build_classifier(name, SIDE).eval()
    x = torch.randn(3, 3, SIDE, SIDE)
    feats = model.penultimate(x)
    assert feats.shape == (3, model.dim)
    torch.testing.assert_close(model.logits(feats), model(x))


@pytest.mark.parametrize("name", NAMES)
def test_every_configured_resolution_builds(name):
    for r in BOUNDS["resolution"].choices:
        assert build_classifier(name, r).eval()(torch.zeros(1, 3, r, r)).shape == (1, 2)


@pytest.mark.parametrize("name", NAMES)
def test_saved_state_reloads_to_identical_predictions(name):
    fit = _fit(name)
    state = _roundtrip(classifier_state(fit.model, SIDE, threshold=0.3))
    assert state["arch"] == name and state["args"] == fit.model.args
    model = load_classifier(state)
    assert type(model) is REGISTRY[name] and not model.training
    xt, _ = _toy(20, 3)
    np.testing.assert_array_equal(predict_proba(model, xt), predict_proba(fit.model, xt))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b, c = _fit(name, 0), _fit(name, 0), _fit(name, 1)
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=0, atol=0)
    xt, _ = _toy(20, 3)
    np.testing.assert_array_equal(predict_proba(a.model, xt), predict_proba(b.model, xt))
    assert not np.array_equal(predict_proba(a.model, xt), predict_proba(c.model, xt))


@pytest.mark.parametrize("name", NAMES)
def test_initial_weights_from_a_file_are_used(name, tmp_path):
    source = build_classifier(name, SIDE)
    with torch.no_grad():  # weights no seeded initialization gives
        for p in source.parameters():
            p.copy_(torch.linspace(-0.05, 0.05, p.numel()).reshape(p.shape))
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    init = read_weights(str(path), name, SIDE)
    # With a zero learning rate, training from the file leaves exactly the file's parameters.
    fit = _fit(name, init=init, lr=0.0, epochs=1, patience=1)
    params = dict(fit.model.named_parameters())
    for k, v in source.named_parameters():
        torch.testing.assert_close(params[k], v, rtol=0, atol=0)
    fresh = _fit(name, lr=0.0, epochs=1, patience=1)
    assert not torch.equal(next(fresh.model.parameters()), next(fit.model.parameters()))
    # A trial's classifier.pt serves as initial weights too.
    torch.save(classifier_state(source, SIDE), tmp_path / "classifier.pt")
    again = read_weights(str(tmp_path / "classifier.pt"), name, SIDE)
    assert all(torch.equal(again[k], v) for k, v in init.items())


def test_a_state_saved_before_states_named_their_architecture_loads_as_the_cnn():
    model = TwoBlockCNN(SIDE).eval()
    old = {"model": model.state_dict(), "resolution": SIDE, "threshold": 0.5}
    loaded = load_classifier(_roundtrip(old))
    assert isinstance(loaded, TwoBlockCNN)
    x = torch.randn(2, 3, SIDE, SIDE)
    torch.testing.assert_close(loaded(x), model(x))


def test_a_state_of_an_unknown_architecture_is_refused_in_one_line():
    state = classifier_state(TwoBlockCNN(SIDE), SIDE)
    with pytest.raises(RayganError, match="'vit'") as err:
        load_classifier({**state, "arch": "vit"})
    assert "\n" not in str(err.value)


def _refused(path, name: str, resolution: int = SIDE) -> str:
    with pytest.raises(RayganError) as err:
        read_weights(str(path), name, resolution)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"--classifier-weights {path}")
    return msg


def test_initial_weights_of_another_model_or_size_are_refused(tmp_path):
    cnn, resnet = tmp_path / "cnn.pt", tmp_path / "resnet.pt"
    torch.save(TwoBlockCNN(SIDE).state_dict(), cnn)
    torch.save(classifier_state(build_classifier("resnet20", SIDE), SIDE), resnet)
    assert "does not fit a resnet20 classifier" in _refused(cnn, "resnet20")
    msg = _refused(resnet, "cnn")
    assert "holds a resnet20 classifier" in msg and "--classifier resnet20" in msg
    # The CNN's dense head depends on the side: 16 px weights do not fit 32 px.
    assert "head.1.weight is (128, 1024), not (128, 4096)" in _refused(cnn, "cnn", 32)


def test_unreadable_or_missing_weight_files_are_refused(tmp_path):
    assert "no such file" in _refused(tmp_path / "nope.pt", "cnn")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    assert "is not a torch weights file" in _refused(junk, "cnn")
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], listed)
    assert "holds no state dict" in _refused(listed, "cnn")


def test_config_names_no_other_classifier():
    from raygan.config import validate
    from raygan.gans import REGISTRY as GANS
    from raygan.profiles import profile_config

    cfg = profile_config("smoke")
    validate(dataclasses.replace(cfg, classifier=ClassifierConfig(name="resnet20")), GANS)
    with pytest.raises(RayganError, match="unknown classifier 'vgg'; known classifiers: cnn, "
                                          "resnet20"):
        validate(dataclasses.replace(cfg, classifier=ClassifierConfig(name="vgg")), GANS)
