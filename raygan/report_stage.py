"""The report of a finished sweep (`raygan report`): its config.json and data, checked against
what it ran on, its classifier and GAN runs read back from MLflow, the external test sets it
tested and those tested now (its saved classifiers, no retraining), the optional fidelity
section, then report.md with its plots and the results folder. `report_results` rebuilds the
report from a results folder alone."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from raygan.artifacts import CONFIG_FILE, EXTRACTOR_FILE, LOCK_FILE, REPORT_DIR, RESULTS_DIR
from raygan.cell import Cell
from raygan.errors import RayganError


def _say(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class ReportRequest:
    """What a report reads and which sections it adds (the options of `raygan report`)."""

    name: str | None  # the sweep's name (its --name); from the results folder with --results
    output: str = "runs"  # the sweep's --output folder; the report goes to output/name/report
    data: str | None = None  # dataset root, if it moved since the sweep ran
    fidelity: bool = False  # rebuild every generator and relate fidelity (FD, KID, precision,
    # recall, density, coverage, near-copies) to AUC, with each run's closest training pairs
    fidelity_images: int = 500  # generated images per GAN for the fidelity measures
    cas: bool = False  # with fidelity: also each GAN run's Classification Accuracy Score
    external_test: tuple[str, ...] = ()  # NAME=DATASET: new sets for the saved classifiers
    keep_external_duplicates: bool | None = None  # None: as the sweep did (it drops them)
    exclude_leaks: bool = False  # add the test split without its re-captured training lesions
    compare: str | None = None  # a second sweep (same --output) whose primary verdicts go beside
    partial: bool = False  # report a sweep whose grid has cells without a finished run


def sweep_folder(name: str, output: str):
    """(folder, config) of the finished sweep `name` under `output`."""
    from raygan.config import check_name, load_config

    check_name(name)
    folder = Path(output).resolve() / name
    if not (folder / CONFIG_FILE).is_file():
        raise RayganError(f"no sweep {name!r} in {folder.parent} (config.json missing); "
                          "check the sweep's name and --output")
    return folder, load_config(folder / CONFIG_FILE)


def sweep_data(cfg, name: str, data: str | None):
    """The dataset a sweep ran on (at its resolution), checked against its fingerprint."""
    from raygan.data import load_source
    from raygan.data.dataset import fingerprint_changes

    dataset = load_source(data or cfg.data, cfg.resolution, cfg.classes or None,
                          cfg.test_fraction, cfg.split_seed, cfg.geometry)
    changed, _ = fingerprint_changes(cfg.data_fingerprint or dataset.fingerprint,
                                     dataset.fingerprint)
    if changed:
        raise RayganError(f"{dataset.root} is not the data sweep {name!r} ran on: "
                          f"{'; '.join(changed)}; pass the sweep's data with --data")
    return dataset


def _audited(name: str, spec: str, cfg, dataset, keep: bool, log: Callable[[str], None],
             moved: str):
    """External set `name` at the sweep's resolution, audited against the sweep's training
    images (`raygan.eval.external.ExternalSet`: less its duplicates unless `keep`); a `spec`
    that no longer exists is an error whose fix is `moved`."""
    from raygan.eval.external import load_external

    ext = load_external(name, spec, cfg.resolution, dataset.train, keep, moved, cfg.geometry)
    log(ext.describe())
    return ext


def _stored_scores(req: ReportRequest, cfg, dataset, uri: str, trials: list, params: dict,
                   name: str, spec: str, log: Callable[[str], None]):
    """The TestSet of external set `name` that the sweep scored, read from `spec` (the stored
    path, or where --external-test says it moved) and checked against the sweep's fingerprint
    of it: its stored scores matched to the images by content id. None, with a note, for a set
    no report can test (the sweep's own data, or too few images of a class)."""
    from raygan import tracking
    from raygan.data.dataset import EXTERNAL_KEY
    from raygan.eval.external import check_testable, check_unchanged, score_order
    from raygan.eval.numbers import TestSet

    stored = cfg.external[name]
    moved = (f"sweep {req.name!r} scored it there; if it moved, point the report at it with "
             f"--external-test {name}=NEWPATH (checked to be the same set)" if spec == stored
             else f"pass the folder or .toml card the set moved to as --external-test "
                  f"{name}=NEWPATH")
    ext = _audited(name, spec, cfg, dataset, cfg.keep_external_duplicates, log, moved)
    entry = cfg.data_fingerprint.get(EXTERNAL_KEY + name)
    if entry:
        check_unchanged(ext, entry, req.name, f"restore it, or test the saved classifiers on it "
                        f"anew under another name: --external-test NEWNAME={spec}")
    else:
        log(f"note: sweep {req.name!r} keeps no fingerprint of external set {name} (an older "
            "raygan): its stored scores are matched to the images by position, unchecked")
    logged = params.get(f"external_duplicates.{name}")
    if logged is not None and int(logged) != ext.duplicates:
        raise RayganError(f"the duplicate audit of external set {name!r} finds "
                          f"{ext.duplicates} duplicates, the sweep found {logged}: the set at "
                          f"{spec} or the training data changed since the sweep ran; restore "
                          "them")
    try:
        check_testable(ext, dataset)
    except RayganError as exc:
        log(f"note: external test {name} is left out of the report: {exc}")
        return None
    scored = tracking.external_scores(uri, trials, name)
    if entry:
        order = score_order(entry, ext)
        for t in scored:
            if len(t.p) != len(order):
                raise RayganError(f"classifier run {t.cell.run_name} holds {len(t.p)} scores on "
                                  f"external set {name!r}, but the sweep scored {len(order)} "
                                  "images of it; the run belongs to another sweep or set")
        scored = [replace(t, p=t.p[order]) for t in scored]
    return TestSet(name, ext.tested.y, scored, True, ext.duplicates,
                   cfg.keep_external_duplicates, duplicates_malignant=ext.duplicates_malignant,
                   ids=_ids(ext.tested.files))


def _report_external(req: ReportRequest, cfg, dataset, uri: str, trials: list,
                     log: Callable[[str], None]) -> list:
    """The external test sets of a report: those the sweep tested (their stored scores; an
    --external-test of the same name says where such a set moved) and the new ones of
    --external-test (the sweep's saved classifiers, evaluated now, no retraining)."""
    from raygan import tracking
    from raygan.cell import Trial
    from raygan.eval.external import check_testable, evaluate_trial
    from raygan.eval.numbers import TestSet
    from raygan.options import external_tests

    given = external_tests(list(req.external_test))
    moved = {name: spec for name, spec in given.items() if name in cfg.external}
    new = {name: spec for name, spec in given.items() if name not in cfg.external}
    keep = (cfg.keep_external_duplicates if req.keep_external_duplicates is None
            else req.keep_external_duplicates)
    params = tracking.sweep_params(uri, cfg.experiment, req.name) if cfg.external else {}
    sets = []
    for name, spec in cfg.external.items():
        ts = _stored_scores(req, cfg, dataset, uri, trials, params, name,
                            moved.get(name, spec), log)
        if ts is not None:
            sets.append(ts)
    loaded = {name: _audited(name, spec, cfg, dataset, keep, log,
                             f"pass an existing folder or .toml card as --external-test "
                             f"{name}=DATASET")
              for name, spec in new.items()}
    for ext in loaded.values():  # all checked before any is tested
        check_testable(ext, dataset)
    for name, ext in loaded.items():
        scored, rows = [], []
        for t in trials:
            metrics, p = evaluate_trial(uri, t.run_id, ext.tested)
            scored.append(Trial(t.cell, p, metrics["youden/threshold"],
                                t.run_id))
            rows.append({"arm": t.arm, "budget": t.budget, "seed": t.seed,
                         **{f"ext/{name}/{k}": v for k, v in metrics.items()}})
        log(f"external test {name}: {len(trials)} saved classifiers tested")
        tracking.log_sweep_metrics(uri, cfg.experiment, req.name,
                                   tracking.summary_metrics(rows))
        sets.append(TestSet(name, ext.tested.y, scored, True, ext.duplicates, keep,
                            duplicates_malignant=ext.duplicates_malignant,
                            ids=_ids(ext.tested.files)))
    return sets


def _leak_sensitivity(dataset, trials: list, log: Callable[[str], None]):
    """The sweep's test split less its re-captures of training lesions, each trial's stored
    scores on the images left (report --exclude-leaks)."""
    from raygan.eval.leakage import leaked
    from raygan.eval.numbers import TestSet

    keep = ~leaked(dataset)
    log(f"leakage audit: {int((~keep).sum())} test images re-capture a training lesion; "
        "the sensitivity section tests without them")
    return TestSet("test-noleak", dataset.test.y[keep], [replace(t, p=t.p[keep]) for t in trials],
                   leaks=int((~keep).sum()),
                   ids=_ids([f for f, k in zip(dataset.test.files, keep, strict=True) if k]))


def _ids(files: list[str]) -> tuple[str, ...]:
    """Stable ids of a set's images for its results folder: digests, never the file names."""
    from raygan.eval.bundle import image_digest

    return tuple(image_digest(f) for f in files)


def _all_real_notes(cfg, dataset) -> list[str]:
    """The report's note on how many real malignant images `all-real` trained on (none when
    the sweep has no all-real arm)."""
    from raygan.cell import ALL_REAL
    from raygan.data import carve_validation
    from raygan.data.arms import all_real_note

    if ALL_REAL not in cfg.arms:
        return []
    train = dataset.train
    pools = carve_validation(train.y, cfg.val_fraction, cfg.split_seed, cfg.validation,
                             train.groups)
    return [all_real_note(pools, cfg.seeds, pools.fill_target(cfg.fill_target))]


def _classifier(cfg) -> str:
    """The sweep's classifier as the report names it: its key, what it is, and its initial
    weights' file if any (a config from before the choice existed ran the study's CNN)."""
    from raygan.classifiers import REGISTRY

    ccfg = cfg.classifier
    what = REGISTRY[ccfg.name].summary if ccfg.name in REGISTRY else "not in this raygan"
    weights = f"; trained from the initial weights {ccfg.weights}" if ccfg.weights else ""
    return f"`{ccfg.name}`, {what}{weights}"


def _geometry_note(cfg, dataset, req: ReportRequest) -> str:
    """The report's note on how each test set's non-square images became square."""
    from raygan.data.sources import geometry_of
    from raygan.options import external_tests

    specs = {**cfg.external, **external_tests(list(req.external_test))}
    sets = [f"the test split {dataset.geometry}",
            *(f"{name} {geometry_of(spec, cfg.geometry)}" for name, spec in specs.items())]
    return ("Image geometry (how images that are not square became square: crop keeps the "
            f"centre, squash changes the aspect ratio, pad adds black bands): {'; '.join(sets)}.")


def compare_folder(req: ReportRequest, cfg):
    """The config of the sweep `req.compare` that the report sets beside `req.name`, checked
    to be another sweep tested on the same test images."""
    if req.compare == req.name:
        raise RayganError(f"--compare {req.compare} names the sweep being reported; name another "
                          "sweep, e.g. the same grid run with another --classifier")
    folder = Path(req.output).resolve() / req.compare
    if not (folder / CONFIG_FILE).is_file():
        raise RayganError(f"--compare {req.compare}: no sweep of that name in {folder.parent} "
                          "(config.json missing); name a sweep of the same --output")
    _, other = sweep_folder(req.compare, req.output)
    _check_same_test(req.compare, cfg, other, f" than {req.name!r}")
    return other


def _check_same_test(compare: str, cfg, other, than: str = "") -> None:
    """A one-line error when the sweep `compare` (config `other`) was tested on other test
    images than this one (`cfg`); sweeps that predate the fingerprint pass."""
    from raygan.data.dataset import digest_of_test

    mine, theirs = (digest_of_test(c.data_fingerprint) if c.data_fingerprint else ""
                    for c in (cfg, other))
    if mine and theirs and mine != theirs:
        raise RayganError(f"--compare {compare}: that sweep was tested on other test images"
                          f"{than} (test data {theirs}, here {mine}); compare sweeps run on the "
                          "same data")


def _across(req: ReportRequest, cfg, other, uri: str, sets: list, primary,
            log: Callable[[str], None]):
    """(the report's "Across sweeps" section, its rows): the primary verdicts of this sweep on
    each of its test sets beside those of sweep `req.compare` on the sets it tested too (the
    test split; an external set of the same name and dataset), from its stored scores."""
    from raygan import tracking
    from raygan.data.dataset import digest_of_test
    from raygan.eval.across import Side, across_rows, across_section
    from raygan.eval.report import check_paired
    from raygan.eval.verdicts import primary_family

    theirs, _ = tracking.sweep_results(uri, other.experiment, req.compare,
                                       digest_of_test(cfg.data_fingerprint))
    if not theirs:
        raise RayganError(f"--compare {req.compare}: that sweep has no finished classifier runs "
                          f"in {uri}")
    mine, b_rows = {}, {}
    for ts in sets:
        mine[ts.name] = primary_family(ts.trials, ts.y, primary)
        if ts.name == "test":
            b_trials = theirs
        elif ts.name in other.external and other.external[ts.name] == cfg.external.get(ts.name):
            b_trials = tracking.external_scores(uri, theirs, ts.name)
        else:
            continue
        check_paired(b_trials, ts.y, "" if ts.name == "test" else ts.name)
        b_rows[ts.name] = primary_family(b_trials, ts.y, primary)
    a = Side(req.name, cfg.classifier.name, mine)
    b = Side(req.compare, other.classifier.name, b_rows)
    log(f"across sweeps: {req.name} ({a.classifier}) beside {req.compare} ({b.classifier})")
    return across_section(a, b), across_rows(a, b)


def report_results(results: str | Path, req: ReportRequest) -> list[Path]:
    """The report of a results folder alone (report --results): no MLflow, data or training;
    written to req.output/<name>/report, the name being req.name or the folder's sweep's."""
    from raygan.config import SweepConfig
    from raygan.eval.bundle import read_results
    from raygan.eval.grid import GridStatus
    from raygan.eval.report import write_report
    from raygan.eval.verdicts import Primary

    needs_data = [f for f, on in (("--fidelity", req.fidelity), ("--cas", req.cas),
                                  ("--external-test", req.external_test),
                                  ("--exclude-leaks", req.exclude_leaks),
                                  ("--data", req.data)) if on]
    if needs_data:
        raise RayganError(f"--results reads a finished results folder alone; {needs_data[0]} "
                          "needs the sweep's data or MLflow store: drop it, or report with "
                          "--name from the sweep's own folder")
    res = read_results(results)
    cfg = SweepConfig.from_dict(res.config)
    other = _compare_results(req.compare, results, cfg) if req.compare else None
    name = req.name or cfg.sweep_name
    out = Path(req.output).resolve() / name / REPORT_DIR
    test = res.sets[0]
    # The folder holds every finished trial and GAN training of its report: a partial report's
    # folder gives the same missing cells again.
    grid = GridStatus.of(cfg, [t.cell.run_name for t in test.trials]
                         + [g.cell.gan_run_name for g in res.gates])
    primary = Primary.of_config(cfg)
    paths = write_report(test.trials, test.y, out, name, notes=res.notes, fidelity=res.fidelity,
                         gates=res.gates or None, curves=res.curves, external=res.sets[1:],
                         primary=primary, classifier=_classifier(cfg), grid=grid)
    if other is not None:
        from raygan.eval.across import ACROSS_CSV, across_rows, across_section, write_across_csv

        a, b = _results_sides(name, cfg, res.sets, other, primary)
        with paths[0].open("a") as f:  # report.md: after the sweep's own report
            f.write("\n\n" + "\n".join(across_section(a, b)) + "\n")
        paths.append(write_across_csv(out / ACROSS_CSV, across_rows(a, b)))
    return paths


def _compare_results(compare: str, results: str | Path, cfg):
    """The results folder `compare` (report --results A --compare B), checked to be another
    sweep's, tested on the same test split as `cfg`'s."""
    from raygan.config import SweepConfig
    from raygan.eval.bundle import read_results

    if Path(compare).resolve() == Path(results).resolve():
        raise RayganError(f"--compare {compare} is the results folder being reported; name "
                          "another sweep's results folder, e.g. the same grid run with "
                          "another --classifier")
    if not Path(compare).is_dir():
        raise RayganError(f"--compare {compare}: with --results, --compare takes another "
                          "sweep's results folder (e.g. results/NAME), and that is not a folder")
    other = read_results(compare)
    _check_same_test(compare, cfg, SweepConfig.from_dict(other.config))
    return other


def _results_sides(name: str, cfg, sets: list, other, primary):
    """The two `Side`s of an across-sweeps section from results folders: the primary family of
    each test set of this sweep, and of the other sweep's set of the same name when it holds
    the very same images and labels (a set of that name on other images is left out)."""
    import numpy as np

    from raygan.config import SweepConfig
    from raygan.eval.across import Side
    from raygan.eval.verdicts import primary_family

    theirs_cfg = SweepConfig.from_dict(other.config)
    by_name = {ts.name: ts for ts in other.sets}
    mine, b_rows = {}, {}
    for ts in sets:
        mine[ts.name] = primary_family(ts.trials, ts.y, primary)
        b = by_name.get(ts.name)
        if b is None or b.ids != ts.ids or not np.array_equal(b.y, ts.y):
            continue
        b_rows[ts.name] = primary_family(b.trials, b.y, primary)
    return (Side(name, cfg.classifier.name, mine),
            Side(theirs_cfg.sweep_name, theirs_cfg.classifier.name, b_rows))


def _lock_holder(folder: Path) -> str:
    """`process PID on host HOST` of the lock a running sweep holds in `folder`; "" without
    a lock, or when its process is gone from this host (a killed sweep leaves its lock)."""
    import json
    import os
    import socket

    try:
        holder = json.loads((folder / LOCK_FILE).read_text())
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except OSError:
            pass  # alive, another user's
    return f"process {pid} on host {host}"


def report_sweep(req: ReportRequest, log: Callable[[str], None] = _say) -> list[Path]:
    """Write the report of the finished sweep `req.name` (report.md first, then its tables and
    plots) and its results folder, and log the report to the sweep's parent run; `log` gets the
    progress lines. A sweep with cells of its grid unfinished is refused before its data is
    read, unless `req.partial`: then the report titles itself partial and lists them."""
    if not req.name:
        raise RayganError("name the sweep to report: --name NAME (or --results FOLDER)")
    from raygan import tracking
    from raygan.data.dataset import digest_of_test
    from raygan.eval.across import ACROSS_CSV, write_across_csv
    from raygan.eval.bundle import write_results
    from raygan.eval.grid import GridStatus
    from raygan.eval.leakage import without_leaks
    from raygan.eval.numbers import TestSet
    from raygan.eval.report import check_paired, write_report
    from raygan.eval.verdicts import Primary
    from raygan.tracking.read import finished_runs

    if req.cas and not req.fidelity:
        raise RayganError("--cas is part of the fidelity section: add --fidelity")
    if req.fidelity_images < 1:
        raise RayganError(f"--fidelity-images must be at least 1, got {req.fidelity_images}")
    folder, cfg = sweep_folder(req.name, req.output)
    other = compare_folder(req, cfg) if req.compare else None
    if req.exclude_leaks and cfg.exclude_leaks:
        raise RayganError("the sweep already tested without the leaked images (it ran with "
                          "--exclude-leaks); drop --exclude-leaks from the report")
    uri = tracking.sweep_store(cfg.tracking_uri, folder, cfg.output,
                               os.environ.get("MLFLOW_TRACKING_URI"), log)
    grid = GridStatus.of(cfg, finished_runs(uri, cfg.experiment, req.name))
    if grid.partial and not req.partial:
        raise RayganError(grid.refusal(req.name, req.output, _lock_holder(folder)))
    if grid.partial:
        log(f"{grid.headline()}: {', '.join(grid.missing)}")
    dataset = sweep_data(cfg, req.name, req.data)
    if cfg.exclude_leaks:  # the sweep tested without them: so must its report
        dataset, _ = without_leaks(dataset)
    y = dataset.test.y
    trials, grids = tracking.sweep_results(uri, cfg.experiment, req.name,
                                           digest_of_test(dataset.fingerprint))
    if not trials:
        raise RayganError(f"sweep {req.name!r} has no finished classifier runs in {uri}")
    check_paired(trials, y)  # before the fidelity section pairs them too
    external = _report_external(req, cfg, dataset, uri, trials, log)
    if req.exclude_leaks:
        external.insert(0, _leak_sensitivity(dataset, trials, log))
    fidelity, pairs = None, None
    if req.fidelity:
        import tempfile

        from raygan.fidelity_stage import sweep_fidelity

        with tempfile.TemporaryDirectory() as tmp:
            ckpts = tracking.gan_checkpoints(uri, cfg.experiment, req.name, tmp)
            measured = sweep_fidelity(cfg, dataset, ckpts, trials, y, req.fidelity_images,
                                      with_cas=req.cas, log=log,
                                      extractor_file=folder / EXTRACTOR_FILE)
        fidelity, pairs = measured.rows, measured.pairs
    gates, curves = tracking.sweep_gates(uri, cfg.experiment, req.name)
    verdicts = {g.cell: g.converged for g in gates}
    for row in fidelity or []:
        row["converged"] = verdicts.get(Cell(row["arm"], row["budget"], row["seed"]), "unknown")
    notes = [*_all_real_notes(cfg, dataset), _geometry_note(cfg, dataset, req)]
    paths = write_report(trials, y, folder / REPORT_DIR, req.name, grids, notes=notes,
                         fidelity=fidelity, gates=gates, curves=curves, external=external,
                         primary=Primary.of_config(cfg), classifier=_classifier(cfg),
                         grid=grid, pairs=pairs)
    sets = [TestSet("test", y, trials, ids=_ids(dataset.test.files)), *external]
    if other is not None:
        section, rows = _across(req, cfg, other, uri, sets, Primary.of_config(cfg), log)
        with paths[0].open("a") as f:  # report.md: after the sweep's own report
            f.write("\n\n" + "\n".join(section) + "\n")
        paths.append(write_across_csv(folder / REPORT_DIR / ACROSS_CSV, rows))
    results = write_results(folder / RESULTS_DIR, cfg.to_json(), sets, gates, curves,
                            fidelity, notes)
    log(f"results folder (scores, gates, fidelity; no images): {results[0].parent}")
    tracking.log_files(uri, cfg.experiment, req.name, paths, REPORT_DIR)
    return paths
