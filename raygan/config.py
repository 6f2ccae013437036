"""Sweep configuration: profiles, the meaning of each field, validation with one-line errors."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raygan.bounds import BOUNDS
from raygan.cell import (
    ALL_REAL,
    CLASSIC_PREFIX,
    GENERATED_PREFIXES,
    PROBE_PREFIX,
    arm_family,
    family_arm,
    is_generated,
)
from raygan.errors import RayganError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # no separators, quotes, leading dot
MAX_NAME = 100  # characters; a folder name and an MLflow run name, with room to spare
NAME_RULE = (f"letters, digits, '.', '_' and '-', not starting with '.', at most {MAX_NAME} "
             "characters")
# --storage schemes that Ray Train/Tune reach through pyarrow's file systems; a bare path is local
STORAGE_SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
VALIDATIONS = ("budget", "study")  # see raygan/data/splits.py
BASELINE_ARMS = ("real", "oversample", "classic", ALL_REAL)
# The shortcut probes (`probe:<name>` arms; raygan/data/probes.py says what each sees)
PROBE_NAMES = ("occlude-25", "occlude-50", "border", "colour")
# How an image that is not square becomes the working resolution's square (raygan/data/dataset.py):
# crop = resize the short side, keep the centre (torchvision's Resize + CenterCrop); squash =
# resize both sides, changing the aspect ratio; pad = resize the long side, pad with black.
GEOMETRIES = ("crop", "squash", "pad")


@dataclass(frozen=True)
class GANConfig:
    """How each generator of a generated-fill arm (`gan:<name>`, `diffusion:<name>`) is built
    and trained."""

    z_dim: int = 100  # latent size; the DCGAN paper's 100
    width: int = 64  # channels of the full-resolution G/D layers (DCGAN's ngf = ndf); deeper
    # layers widen from it, up to 8x
    batch_size: int = 64  # images per optimizer step, summed over all DDP workers
    steps: int = 2000  # optimizer steps of G (D takes one step per G step)
    lr: float = 2e-4  # Adam learning rate for G and D (DCGAN paper; profiles give pggan 1e-3)
    beta1: float = 0.5  # Adam beta1; 0.5 keeps GAN training stable (DCGAN paper)
    num_workers: int = 1  # Ray Train DDP workers per GAN training
    cpus_per_worker: int = 1  # CPU cores per Ray Train worker (torch threads follow it)
    use_gpu: bool = False  # one GPU per worker, nccl backend; gloo on CPU
    checkpoint_every: int = 500  # steps between checkpoints reported to Ray Train
    log_every: int = 50  # steps between loss reports (MLflow `loss/G`, `loss/D`)
    diffaugment: str = ""  # DiffAugment policy for every D call, e.g. "color,translation,cutout"
    upscale: bool = False  # generate at half resolution, then a trained ESRGAN-style SR stage x2
    # Convergence (raygan/eval/quality.py): every `eval_every` steps rank 0 measures how far
    # fixed-latent samples are from the budget's real images (`quality/gap`: 0 = as close as
    # more real malignant images, 1 = as far as real benign lesions), logged live. 0 = no probe.
    eval_every: int = 0
    # Stop early once the best gap of the last `stop_patience` probes is not `stop_gain` below
    # the best before them. 0 = always train `steps` (otherwise `steps` is an upper bound).
    stop_patience: int = 0
    stop_gain: float = 0.05  # gap improvement that counts as progress (5 % of the yardstick)
    min_steps: int = 0  # never stop before this many steps
    # ... and only once the smoothed gap is at most this (the quality gate, eval/quality.py
    # GATE_GAP): a run that has flattened far from the real images (a collapsed or diverging
    # GAN) keeps training up to `steps` instead of being stopped in a bad state. So every run
    # the rule stops passes the gate by construction; 1.5 is a permissive threshold (at most
    # 1.5 times as far as real benign lesions, above the real-vs-real floor), not 1.0.
    stop_below: float = 1.5
    ema: float = 0.0  # decay of an exponential moving average of G's weights that sampling
    # uses (StyleGAN2 / FastGAN sample from one); 0 = off, e.g. 0.999 = half-life ~700 steps
    amp: bool = False  # bf16 autocast for the training step (CPU and GPU); sampling stays fp32
    channels_last: bool = False  # NHWC memory format for networks and batches
    # torch.compile (inductor) of every network, in place (state-dict keys unchanged); its
    # compile time is paid once per training process (benchmarks/gan_switches.py)
    compile: bool = False
    # pggan only: 0 = the PGGAN paper's WGAN-GP loss; > 0 = the non-saturating logistic loss with
    # an R1 penalty of this weight (gamma) on real images, as StyleGAN trains (gans/pggan.py)
    r1: float = 0.0
    # steps between R1 penalties, each weighted by this count (StyleGAN2's lazy regularization:
    # 16 costs a double backward once in 16 steps instead of every step); 1 = every step
    r1_every: int = 1
    # Diffusion families only (gans/ddpm.py): DDIM denoising steps per generated image, each a
    # pass of the UNet. `sample_steps` for every image a sweep uses (the fill, `raygan
    # generate`, the report's fidelity); `probe_sample_steps` for the quality probe's, which
    # runs every `eval_every` steps and only needs to track progress
    sample_steps: int = 50
    probe_sample_steps: int = 10


# The downstream classifiers' registry keys (raygan/classifiers/ registers each; the command
# line lists these without importing torch, and a test holds the two equal). The first is the
# study's 2-block CNN: what a sweep, a saved state or a results folder without the key used.
CLASSIFIER_NAMES = ("cnn", "resnet20")
DEFAULT_CLASSIFIER = CLASSIFIER_NAMES[0]


@dataclass(frozen=True)
class ClassifierConfig:
    """The downstream classifier (the study's 2-block CNN unless `name` says otherwise) and how
    each trial trains it."""

    name: str = DEFAULT_CLASSIFIER  # registry key of the model: cnn, resnet20 (CLASSIFIER_NAMES)
    # A local file of initial weights (a state dict or a trial's classifier.pt of the same
    # model and resolution), absolute; empty = a fresh seeded initialization. Never downloaded.
    weights: str = ""
    epochs: int = 30  # upper bound; early stopping on val AUC usually ends sooner
    patience: int = 5  # epochs without a val AUC gain before stopping
    batch_size: int = 64  # images per Adam step
    lr: float = 1e-3  # Adam learning rate (the study's optimizer)
    cpus: int = 1  # CPU cores per classifier trial
    use_gpu: bool = False  # one GPU per trial


@dataclass(frozen=True)
class SweepConfig:
    """One sweep: the arm x budget x seed grid, the data, and where results go."""

    profile: str = "laptop"  # the preset these values started from
    data: str = ""  # dataset root in the Kaggle layout; resolved from --data / RAYGAN_DATA
    resolution: int = 64  # px, square; images are resized on load
    geometry: str = "crop"  # how non-square images become square (GEOMETRIES); a dataset card's
    # `geometry` key holds for its dataset over this one
    budgets: tuple[int, ...] = (50, 200, 500)  # N real malignant training images kept per cell
    arms: tuple[str, ...] = ("real", "oversample", "classic", "gan:dcgan", "all-real")  # grid arms
    seeds: tuple[int, ...] = (0,)  # each seed redraws the budget subset and re-inits every model
    fill_target: int = 0  # malignant count after filling; 0 = every real malignant train image
    val_fraction: float = 0.15  # share of train carved off (stratified) for early stopping
    split_seed: int = 0  # fixes the validation split, so seeds compare on the same val/test
    # Drop test images that re-capture a training lesion (pHash + thumbnail audit,
    # raygan/eval/leakage.py); off by default so results compare with the study's test split.
    exclude_leaks: bool = False
    # "budget": a cell's malignant validation images are a part of its N (every 5th in the draw
    # order, and the first two), so no real malignant image beyond the N influences anything;
    # "study": the published study's split, val_fraction of each class carved before budgets.
    validation: str = "budget"
    classes: tuple[str, ...] = ()  # (negative, positive) class folders; empty = benign, malignant
    test_fraction: float = 0.2  # share of each class carved as test where data has no test split
    # NAME -> dataset (a folder or a .toml card) on which every classifier is tested as well
    external: dict[str, str] = field(default_factory=dict)
    # Keep external images that near-duplicate a training or validation image (dropped by
    # default: the same picture in both would flatter every arm)
    keep_external_duplicates: bool = False
    gan: GANConfig = field(default_factory=GANConfig)
    # Per-family changes to `gan`, e.g. {"cyclegan": {"width": 16}}: the families differ in cost
    # per image by 100x, so a CPU profile gives each a budget it can finish in its share of time.
    gan_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    address: str = ""  # Ray cluster address ('auto', 'ray://...'); empty = start a local Ray
    storage: str = ""  # Tune/Train storage_path (shared storage on a cluster); empty = output/ray
    output: str = "runs"  # folder for the resolved config and results tables
    experiment: str = "raygan"  # MLflow experiment name
    # The MLflow store the sweep logs to, absolute for sqlite and file stores (resolved from
    # MLFLOW_TRACKING_URI, else ./mlflow.db): a resume or report from any folder finds it.
    tracking_uri: str = ""
    sweep_name: str = ""  # parent MLflow run name and results sub-folder; empty = profile+time
    num_grid_images: int = 64  # generated images shown in each GAN's MLflow PNG grid
    # A sweep of the same MLflow store whose finished GAN trainings this one copies where they
    # were trained with the same settings on the same data, instead of training them again
    gans_from: str = ""
    # The primary comparison, declared before the run (raygan/eval/verdicts.py): every
    # generative fill against REF in METRIC ("auc" or "acc") at each budget on the test split,
    # one Holm family; the report leads with its verdicts and calls everything else secondary.
    primary: str = "auc:oversample"
    margin: float = 0.02  # +- difference in the primary metric within which arms are equivalent
    primary_declared: bool = True  # False: a config.json from before `primary` existed
    # Per split/class folder of the data: files, bytes, digests of names+sizes and of mtimes
    # (raygan/data/dataset.py fingerprint); filled on load, a resume must find the same data.
    data_fingerprint: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def gan_names(self) -> tuple[str, ...]:
        """The generator families that the arms name (`gan:*`, `diffusion:*`, `classic+` either),
        each once, in arm order: each trains once per budget and seed, whichever arms read its
        fill."""
        return tuple(dict.fromkeys(arm_family(a) for a in self.arms if arm_family(a)))

    def gan_config(self, name: str, budget: int | None = None) -> GANConfig:
        """The GANConfig that family `name` trains with at `budget`: `gan`, then the family's
        overrides, then those of the cell `name@budget` (e.g. tuned by sweeps/tune_gans.py)."""
        cell = self.gan_overrides.get(f"{name}@{budget}", {}) if budget is not None else {}
        return dataclasses.replace(self.gan, **{**self.gan_overrides.get(name, {}), **cell})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, ready for JSON and MLflow params."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepConfig:
        """Inverse of `to_dict` (e.g. a `config.json` read back to resume a sweep)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        for key in ("budgets", "arms", "seeds", "classes"):
            if key in values:
                values[key] = tuple(values[key])
        values.setdefault("validation", "study")  # a config from before the choice existed
        values.setdefault("geometry", "squash")  # ... before raygan kept the aspect ratio
        values.setdefault("primary_declared", "primary" in d)  # ... or before the declaration
        values["gan"] = GANConfig(**d.get("gan", {}))
        values["classifier"] = ClassifierConfig(**d.get("classifier", {}))
        return cls(**values)

    def to_json(self) -> str:
        """The resolved config, as written next to the results and printed by --dry-run."""
        return json.dumps(self.to_dict(), indent=2)


def load_config(path: Path) -> SweepConfig:
    """The config a sweep saved in `path` (its config.json); a truncated, empty or unreadable
    file, or one from a raygan with other settings, is a RayganError."""
    fix = ("restore it from the artifacts of the sweep's MLflow parent run (config.json), or "
           "start a new sweep under another --name")
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise RayganError(f"cannot read {path}: {exc.strerror}; {fix}") from None
    except ValueError as exc:
        raise RayganError(f"{path} is not valid JSON ({exc}): it is truncated or empty; "
                          f"{fix}") from None
    if not isinstance(data, dict):
        raise RayganError(f"{path} holds no raygan config (a JSON object); {fix}")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(SweepConfig)})
    for key, section in (("gan", GANConfig), ("classifier", ClassifierConfig)):
        if isinstance(data.get(key), dict):
            known = {f.name for f in dataclasses.fields(section)}
            unknown += sorted(f"{key}.{k}" for k in set(data[key]) - known)
    if unknown:
        raise RayganError(f"{path} holds settings this raygan does not know ({', '.join(unknown)})"
                          f": another raygan version wrote it; resume with that version, or "
                          f"{fix}")
    try:
        return SweepConfig.from_dict(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise RayganError(f"{path} holds no usable raygan config ({exc}); {fix}") from None


# The profiles' names (raygan/profiles.py holds the presets, above the GAN plug-ins; the command
# line lists these without importing them, and a test holds the two equal).
PROFILE_NAMES = ("smoke", "laptop", "overnight", "paper", "decisive", "decisive-resnet20")
# DiffAugment's policy names, which `gan.diffaugment` may combine; raygan/gans/diffaugment.py
# implements each (tests/gans/test_gans.py holds its registry to these names).
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


def check_name(name: str) -> str:
    """A sweep name is a folder under --output and goes into MLflow queries: keep it plain."""
    if len(name) > MAX_NAME:
        raise RayganError(f"--name is {len(name)} characters long; use at most {MAX_NAME}")
    if not NAME_PATTERN.fullmatch(name):
        raise RayganError(f"--name {name!r} is not a plain name; use {NAME_RULE}, e.g. laptop-1")
    return name


def check_external_name(name: str) -> str:
    """An external test set's name goes into file names and MLflow metric names: plain, and
    not `test`, the name of the sweep's own split."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME:
        raise RayganError(f"external test name {name!r} is not a plain name; use {NAME_RULE}"
                          ", e.g. isic=cards/isic2017.toml")
    if name == "test":
        raise RayganError("external test name 'test' is the sweep's own test split; name the "
                          "set otherwise, e.g. isic=cards/isic2017.toml")
    return name


PRIMARY_METRICS = ("auc", "acc")  # what a primary comparison can compare
PRIMARY_REFS = ("oversample", "real", "classic")  # the arms it can compare the fills against


def check_primary(spec: str, margin: Any, arms: tuple[str, ...] = ()) -> tuple[str, str]:
    """(metric, reference) of a `--primary METRIC:REF` with its `--margin`; a RayganError
    that says how to fix either, and one when the grid has generative arms and baselines but
    lacks REF."""
    metric, sep, ref = str(spec).partition(":")
    if not sep or metric not in PRIMARY_METRICS or ref not in PRIMARY_REFS:
        raise RayganError(f"--primary {spec!r} is not METRIC:REF with METRIC one of "
                          f"{', '.join(PRIMARY_METRICS)} and REF one of {', '.join(PRIMARY_REFS)};"
                          " e.g. --primary auc:oversample")
    BOUNDS["margin"].check("--margin", margin)
    gans = [a for a in arms if is_generated(a)]
    # A grid of GANs alone (what `raygan tune` trains) has no comparison to declare.
    if gans and ref not in arms and len(gans) < len(arms):
        raise RayganError(f"--primary {spec} compares the fills with {ref!r}, which the grid "
                          f"lacks; add it to --arms or name another reference")
    return metric, ref


def check_classes(classes: tuple[str, ...]) -> tuple[str, ...]:
    """`classes` of --classes: empty (benign, malignant), or two different folder names."""
    if classes and (len(classes) != 2 or len(set(classes)) != 2 or not all(classes)):
        raise RayganError(f"--classes {','.join(classes)}: name two different classes, "
                          "NEGATIVE,POSITIVE (the second is the scarce one)")
    return classes


def check_bound(what: str, key: str, value: Any) -> Any:
    """`value` of the setting `key` of raygan.bounds.BOUNDS, or a RayganError naming `what`,
    the value and the allowed range."""
    return BOUNDS[key].check(what, value)


def validate(cfg: SweepConfig, gan_registry: dict[str, Any]) -> SweepConfig:
    """Check every value that can be checked without the data; raise RayganError on the first."""
    if cfg.sweep_name:
        check_name(cfg.sweep_name)
    scheme = cfg.storage.partition("://")[0].lower() if "://" in cfg.storage else ""
    if scheme and scheme not in STORAGE_SCHEMES:
        raise RayganError(f"--storage {cfg.storage}: unsupported scheme {scheme}://; use a local "
                          f"path or one of {', '.join(s + '://' for s in STORAGE_SCHEMES)}")
    if cfg.geometry not in GEOMETRIES:
        raise RayganError(f"unknown geometry {cfg.geometry!r}; use one of: "
                          f"{', '.join(GEOMETRIES)}")
    for name in ("resolution", "fill_target", "val_fraction", "split_seed", "test_fraction",
                 "num_grid_images"):
        check_bound(name, name, getattr(cfg, name))
    if not cfg.arms:
        raise RayganError("no arms given; name at least one, e.g. --arms real,gan:dcgan")
    generated = (*GENERATED_PREFIXES, *(CLASSIC_PREFIX + p for p in GENERATED_PREFIXES))
    for arm in cfg.arms:
        if arm.startswith(PROBE_PREFIX):
            if arm[len(PROBE_PREFIX):] not in PROBE_NAMES:
                raise RayganError(f"unknown probe {arm!r}; known probes: "
                                  f"{', '.join(PROBE_PREFIX + p for p in PROBE_NAMES)} "
                                  "(--probes adds them all)")
        elif arm.startswith(generated):
            name = arm_family(arm)
            if name not in gan_registry:
                raise RayganError(
                    f"unknown GAN {name!r} in arm {arm!r}; known GANs: {', '.join(gan_registry)}"
                    f" (arms {', '.join(family_arm(g) for g in gan_registry)})"
                )
            if arm.removeprefix(CLASSIC_PREFIX) != family_arm(name):
                raise RayganError(f"arm {arm!r}: {name} is a {family_arm(name).partition(':')[0]}"
                                  f" family; its arm is {family_arm(name)}")
        elif arm not in BASELINE_ARMS:
            known = ", ".join([*BASELINE_ARMS, *(family_arm(g) for g in gan_registry),
                               f"{CLASSIC_PREFIX}<generated arm>", f"{PROBE_PREFIX}<probe>"])
            raise RayganError(f"unknown arm {arm!r}; known arms: {known}")
    if len(set(cfg.arms)) != len(cfg.arms):
        raise RayganError(f"arms repeat: {','.join(cfg.arms)}; name each arm once")
    # The default comparison against `oversample` stays quietly empty in a grid without it
    # (the report says so); a --primary the user names must find its reference (options.py).
    check_primary(cfg.primary, cfg.margin)
    counted = [a for a in cfg.arms if a != ALL_REAL]
    if counted and not cfg.budgets:
        raise RayganError(f"no budgets given for the arms {','.join(counted)} (all-real alone "
                          f"needs none); pass e.g. --budgets 50,200, or --budgets 50,200,all to "
                          "add the all-real arm")
    for b in cfg.budgets:
        check_bound("budget", "budgets", b)
    if len(set(cfg.budgets)) != len(cfg.budgets):
        raise RayganError(f"budgets repeat: {','.join(map(str, cfg.budgets))}; name each budget "
                          "once (a repeat would train every cell of it twice)")
    if not cfg.seeds:
        raise RayganError("no seeds given; pass e.g. --seeds 0,1,2")
    for s in cfg.seeds:
        check_bound("seed", "seeds", s)
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise RayganError(f"seeds repeat: {','.join(map(str, cfg.seeds))}; name each seed once")
    if cfg.validation not in VALIDATIONS:
        raise RayganError(f"unknown validation {cfg.validation!r}; use one of: "
                          f"{', '.join(VALIDATIONS)}")
    check_classes(cfg.classes)
    for name, spec in cfg.external.items():
        check_external_name(name)
        if not spec:
            raise RayganError(f"external test {name} names no dataset; use NAME=DATASET")
    fields = {f.name for f in dataclasses.fields(GANConfig)}
    for fam, over in cfg.gan_overrides.items():
        family, _, budget = fam.partition("@")
        if family not in gan_registry or (budget and not budget.isdigit()):
            raise RayganError(f"gan override {fam!r} names no GAN family (or family@budget); "
                              f"known families: {', '.join(gan_registry)}")
        bad_keys = sorted(set(over) - fields)
        if bad_keys:
            raise RayganError(f"gan override {fam}.{bad_keys[0]} is not a GAN setting; known:"
                              f" {', '.join(sorted(fields))}")
        for key, value in over.items():
            _check_type(f"gan override {fam}.{key}", value, GANConfig, key)
            if f"gan.{key}" in BOUNDS:
                check_bound(f"gan override {fam}.{key}", f"gan.{key}", value)
    for section, prefix in ((cfg.gan, "gan"), (cfg.classifier, "classifier")):
        for f in dataclasses.fields(section):
            _check_type(f"{prefix}.{f.name}", getattr(section, f.name), type(section), f.name)
            if f"{prefix}.{f.name}" in BOUNDS:
                check_bound(f"{prefix}.{f.name}", f"{prefix}.{f.name}", getattr(section, f.name))
    for name in cfg.gan_names:
        for budget in (None, *cfg.budgets):
            where = f"{name}@{budget}" if budget is not None else name
            _check_gan(cfg.gan_config(name, budget), where,
                       getattr(gan_registry[name], "min_worker_batch", 1))
    _check_gan(cfg.gan, "gan", 1)
    if cfg.classifier.name not in CLASSIFIER_NAMES:
        raise RayganError(f"unknown classifier {cfg.classifier.name!r}; known classifiers: "
                          f"{', '.join(CLASSIFIER_NAMES)} (e.g. --classifier "
                          f"{DEFAULT_CLASSIFIER})")
    return cfg


def _check_gan(gan: GANConfig, where: str, min_worker_batch: int) -> None:
    """The rules between a GAN's settings (each within its bounds already): those of family
    or cell `where`, whose DDP workers need `min_worker_batch` images each per step."""
    if gan.stop_patience and not gan.eval_every:
        raise RayganError(f"{where}: stop_patience needs eval_every > 0 (the stop rule reads the "
                          "quality probe)")
    if gan.batch_size < gan.num_workers * min_worker_batch:
        each = f"{min_worker_batch} images each" if min_worker_batch > 1 else "one image each"
        raise RayganError(
            f"{where}: gan batch size {gan.batch_size} is smaller than its {gan.num_workers}"
            f" workers x {each}; raise --gan-batch-size or lower --gan-workers"
        )
    bad = [p for p in gan.diffaugment.split(",")
           if p.strip() and p.strip() not in DIFFAUGMENT_POLICIES]
    if bad:
        raise RayganError(f"unknown DiffAugment policy {bad[0]!r}; use a comma-separated subset"
                          f" of: {', '.join(DIFFAUGMENT_POLICIES)}")


_TYPES = {"int": ((int,), "an integer"), "float": ((int, float), "a number"),
          "bool": ((bool,), "true or false"), "str": ((str,), "a string")}


def _check_type(what: str, value: Any, section: type, name: str) -> None:
    """`value` has the type of field `name` of the dataclass `section` (JSON gives any type)."""
    ftype = {f.name: f.type for f in dataclasses.fields(section)}[name]
    if ftype not in _TYPES:
        return
    types, text = _TYPES[ftype]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise RayganError(f"{what} = {json.dumps(value)} must be {text}, e.g. "
                          f"{json.dumps(getattr(section(), name))}")
