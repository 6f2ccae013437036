"""Every number a user can set has a lower and an upper bound in raygan.bounds.BOUNDS: each
numeric option of every subcommand and script, and each numeric setting of a sweep's config
(GANConfig and ClassifierConfig too, as --gan-configs and config.json give them). A value just
outside is refused in one line naming the option, the value and the range, with exit code 2,
before Ray starts; the values at the bounds are taken."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest
import ray

from raygan import cli
from raygan.bounds import BOUNDS, Bound, Number, NumberList
from raygan.config import ClassifierConfig, GANConfig, SweepConfig, validate
from raygan.errors import RayganError
from raygan.gans import REGISTRY
from raygan.profiles import profile_config

# Each command line that parses options, with what it needs besides the option under test so
# that it would stop at once even if the value were taken (a dry run on a missing dataset, a
# missing checkpoint, a sweep that does not exist).
COMMANDS = {
    "raygan run": (cli.main, ["run"], ["--data", "/nonexistent/data", "--dry-run"]),
    "raygan tune": (cli.main, ["tune"], ["--data", "/nonexistent/data", "--dry-run"]),
    "raygan report": (cli.main, ["report"], ["--name", "nope", "--output", "/nonexistent/runs"]),
    "raygan generate": (cli.main, ["generate"], ["--checkpoint", "/nonexistent/gan.pt",
                                                 "--out", "/nonexistent/png"]),
    "raygan data check": (cli.main, ["data", "check"], ["/nonexistent/data"]),
    "sweeps/full_grid.py": (cli.run_main, [], ["--data", "/nonexistent/data", "--dry-run"]),
    "sweeps/tune_gans.py": (cli.tune_main, [], ["--data", "/nonexistent/data", "--dry-run"]),
    "sweeps/report.py": (cli.report_main, [], ["--name", "nope", "--output", "/nonexistent/runs"]),
}


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every parser a user reaches: the subcommands of `raygan` (data's too) and the scripts."""
    out = {"sweeps/full_grid.py": cli.run_parser(), "sweeps/tune_gans.py": cli.tune_parser(),
           "sweeps/report.py": cli.report_parser()}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        out[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    walk(child, f"{name} {sub}")

    walk(cli.make_parser(), "raygan")
    return out


PARSERS = _parsers()


def _numeric_actions() -> list[tuple[str, str, argparse.Action]]:
    """(command, flag, action) of every option whose value is a number or a list of numbers."""
    out = []
    for name, parser in PARSERS.items():
        for action in parser._actions:
            if isinstance(action.type, Number | NumberList) or action.type in (int, float):
                out.append((name, action.option_strings[-1] if action.option_strings
                            else action.dest, action))
    return out


NUMERIC = _numeric_actions()


def test_every_numeric_option_has_bounds():
    assert {name for name, _, _ in NUMERIC} >= set(COMMANDS)  # each command has some
    for name, parser in PARSERS.items():
        for action in parser._actions:
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            # A bare int or float would take any value: every number goes through its bound.
            assert action.type not in (int, float), f"{where} has no bounds (raygan/bounds.py)"
            default = action.default
            if isinstance(default, int | float) and not isinstance(default, bool):
                assert isinstance(action.type, Number), f"{where}: a number without bounds"
            if isinstance(action.type, Number | NumberList):
                bound = BOUNDS[action.type.key]
                assert bound.range in action.help, f"{where}: its help omits {bound.range}"
                if default is not None:
                    assert bound.holds(default), f"{where}: default {default} out of bounds"


def _numeric_fields() -> list[str]:
    """The BOUNDS key of every numeric setting of SweepConfig, GANConfig, ClassifierConfig."""
    out = []
    for section, prefix in ((SweepConfig, ""), (GANConfig, "gan."), (ClassifierConfig,
                                                                      "classifier.")):
        for f in dataclasses.fields(section):
            if f.type in ("int", "float", "tuple[int, ...]"):
                out.append(prefix + f.name)
    return out


def test_every_numeric_setting_has_bounds_and_every_bound_is_used():
    fields = _numeric_fields()
    assert "gan.steps" in fields and "classifier.epochs" in fields and "budgets" in fields
    missing = [f for f in fields if f not in BOUNDS]
    assert not missing, f"settings without bounds in raygan/bounds.py: {missing}"
    used = set(fields) | {a.type.key for _, _, a in NUMERIC}
    assert set(BOUNDS) <= used, f"bounds of nothing: {sorted(set(BOUNDS) - used)}"
    for key in fields:  # the profiles' values lie within
        for name in ("smoke", "laptop", "overnight", "paper"):
            cfg = profile_config(name)
            section, _, field = key.rpartition(".")
            value = getattr(getattr(cfg, section) if section else cfg, field)
            for v in value if isinstance(value, tuple) else (value,):
                assert BOUNDS[key].holds(v), (name, key, v)


def _outside(bound: Bound) -> list[int | float]:
    """Values just below the lower and just above the upper bound (and, for a set of choices,
    one between two of them)."""
    if bound.choices:
        return [min(bound.choices) - 1, max(bound.choices) + 1, bound.choices[0] + 1]
    if bound.integer:
        return [bound.lo - 1, bound.hi + 1]
    return [float(bound.lo) if bound.lo_open else math.nextafter(bound.lo, -math.inf),
            float(bound.hi) if bound.hi_open else math.nextafter(bound.hi, math.inf)]


def _inside(bound: Bound) -> list[int | float]:
    """The values at the bounds that are taken (the nearest within, at an open end)."""
    if bound.choices:
        return list(bound.choices)
    if bound.integer:
        return [bound.lo, bound.hi]
    return [math.nextafter(bound.lo, math.inf) if bound.lo_open else float(bound.lo),
            math.nextafter(bound.hi, -math.inf) if bound.hi_open else float(bound.hi)]


def _allowed(bound: Bound) -> str:
    """How a refusal states the range."""
    if bound.choices:
        return f"one of {bound.range}"
    if bound.integer:
        return f"between {bound.lo:,} and {bound.hi:,}"
    return f"in {bound.range}"


def _shown(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value}"


@pytest.mark.parametrize("name, flag, action", NUMERIC,
                         ids=[f"{n}{' ' + f if f.startswith('-') else ''}" for n, f, _ in NUMERIC])
def test_a_value_just_outside_is_one_line_before_anything_runs(capsys, name, flag, action):
    main, prefix, rest = COMMANDS[name]
    bound = BOUNDS[action.type.key]
    for value in _outside(bound):
        text = repr(value) if isinstance(value, float) else str(value)
        code = main([*prefix, f"{flag}={text}", *rest])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"error: {flag} must {'lie' if not bound.integer else 'be'} "
                                 f"{_allowed(bound)}"), err[0]
        assert f"got {_shown(value)} ({bound.meaning})" in err[0], err[0]
        assert not ray.is_initialized()
    for value in _inside(bound):
        text = repr(value) if isinstance(value, float) else str(value)
        args = PARSERS[name].parse_args([f"{flag}={text}", *rest])
        assert vars(args)[action.dest] in (value, text)


def _with(cfg: SweepConfig, key: str, value) -> SweepConfig:
    section, _, field = key.rpartition(".")
    if not section:
        return dataclasses.replace(cfg, **{field: (value,) if key in ("budgets", "seeds")
                                           else value})
    changed = dataclasses.replace(getattr(cfg, section), **{field: value})
    if key == "gan.num_workers":  # each worker needs its share of the batch
        changed = dataclasses.replace(changed, batch_size=BOUNDS["gan.batch_size"].hi)
    return dataclasses.replace(cfg, **{section: changed})


SETTINGS = _numeric_fields()


@pytest.mark.parametrize("key", SETTINGS)
def test_a_setting_just_outside_is_refused_by_validate(key):
    """As a profile, a --gan-configs file or a saved config.json would give it."""
    bound = BOUNDS[key]
    label = {"budgets": "budget", "seeds": "seed", "margin": "--margin"}.get(key, key)
    for value in _outside(bound):
        with pytest.raises(RayganError) as exc:
            validate(_with(profile_config("smoke"), key, value), REGISTRY)
        msg = str(exc.value)
        assert msg.startswith(f"{label} must ") and f"got {_shown(value)}" in msg, msg
        assert "\n" not in msg
    for value in _inside(bound):
        cfg = _with(profile_config("smoke"), key, value)
        assert validate(cfg, REGISTRY) is cfg
    if key.startswith("gan."):  # a --gan-configs cell is held to the same bounds
        field = key.partition(".")[2]
        for value in _outside(bound):
            cfg = dataclasses.replace(profile_config("smoke"),
                                      gan_overrides={"dcgan@20": {field: value}})
            with pytest.raises(RayganError, match=rf"^gan override dcgan@20\.{field} must "):
                validate(cfg, REGISTRY)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.1", None, True])
def test_what_is_not_a_number_within_is_refused(value):
    for key in ("margin", "gan.lr", "classifier.epochs"):
        assert not BOUNDS[key].holds(value)
    with pytest.raises(RayganError, match="--margin must lie in"):
        BOUNDS["margin"].check("--margin", value)


def test_a_gan_batch_gives_each_worker_what_its_family_needs():
    """InfoGAN's Q head normalizes over the batch: a DDP worker with one image cannot train."""
    cfg = profile_config("smoke")
    cfg = dataclasses.replace(cfg, arms=("real", "gan:infogan"),
                              gan=dataclasses.replace(cfg.gan, batch_size=3, num_workers=2))
    with pytest.raises(RayganError, match=r"infogan: gan batch size 3 is smaller than its 2 "
                                          r"workers x 2 images each"):
        validate(cfg, REGISTRY)
    dcgan = dataclasses.replace(cfg, arms=("real", "gan:dcgan"))
    assert validate(dcgan, REGISTRY) is dcgan  # one image per worker trains DCGAN


def test_the_bounds_docs_running_lists_are_the_tables():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "running.md").read_text()
    keys = {flag: a.type.key for _, flag, a in NUMERIC}
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].endswith("`") and "--" in cells[0]:
            rows[cells[0].strip("`").split()[-1]] = cells[1]
    assert set(rows) == set(keys), "docs/running.md lists other options than the parsers"
    for flag, allowed in rows.items():
        assert allowed.startswith(BOUNDS[keys[flag]].range), (flag, allowed)
