"""Bad input: one line on stderr, exit code 2, no traceback, and Ray never started."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import ray

from raygan import cli

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"


def _fails(capsys, *argv: str) -> str:
    code = cli.run_main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert not ray.is_initialized()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_missing_dataset_path(capsys, data_copy):
    msg = _fails(capsys, "--data", str(data_copy / "nope"), "--dry-run")
    assert "does not exist" in msg and "fanconic/skin-cancer-malignant-vs-benign" in msg


def test_wrong_layout(capsys, data_copy):
    shutil.rmtree(data_copy / "test" / "malignant")
    msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    assert "test/malignant" in msg and "{train,test}/{benign,malignant}" in msg


def test_corrupt_image_is_named(capsys, data_copy):
    bad = data_copy / "train" / "benign" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    assert "broken.jpg" in _fails(capsys, "--data", str(data_copy), "--dry-run")


@pytest.mark.parametrize("budgets,needle", [
    ("0", "--budgets must be between 1 and 100,000 or all, got 0"),
    ("-3", "--budgets must be between 1 and 100,000 or all, got -3"),
    ("500", "exceeds"), ("x", "got 'x'")])
def test_impossible_budgets(capsys, data_copy, budgets, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), f"--budgets={budgets}", "--dry-run")


@pytest.mark.parametrize("argv,needle", [
    (("--budgets", "20,20"), "budgets repeat: 20,20"),
    (("--budgets", "5,all,5"), "budgets repeat: 5,5"),
    (("--seeds", "1,1"), "seeds repeat: 1,1"),
    (("--arms", "real,real"), "arms repeat"),
    (("--budgets", ""), "--budgets '' names nothing"),
    (("--budgets", ","), "--budgets ',' names nothing"),
    (("--seeds", ""), "--seeds '' names nothing"),
    (("--arms", " , "), "--arms ' , ' names nothing"),
])
def test_repeated_or_empty_lists(capsys, data_copy, argv, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), "--profile", "smoke", *argv,
                            "--dry-run")


@pytest.mark.parametrize("argv,needle", [
    (("--arms", "real,bogus"), "unknown arm"),
    (("--arms", "gan:nope"), "unknown GAN"),
    (("--resolution", "50"), "--resolution must be one of 32, 64, 128 or 224, got 50"),
    (("--profile", "huge"), "unknown profile"),
    (("--gan-steps", "0"), "--gan-steps must be between 1 and 1,000,000, got 0"),
])
def test_bad_config_values(capsys, data_copy, argv, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), *argv, "--dry-run")


def test_budgets_all_is_the_all_real_arms_budget(capsys, data_copy):
    """`all` is the budget of the all-real arm (every real malignant training image)."""
    def dry_run(*argv: str) -> str:
        assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", *argv,
                             "--dry-run"]) == 0
        return capsys.readouterr().out

    # alone: the grid of the arm whose budget it is (the profile's other arms take counts)
    out = dry_run("--budgets", "all")
    assert '"arms": [\n    "all-real"\n  ]' in out and '"budgets": []' in out
    assert "0 GAN trainings, 1 classifier trials" in out
    # beside counts it adds the all-real arm, also to arms named on the command line
    out = dry_run("--budgets", "20,all", "--arms", "real")
    assert '"arms": [\n    "real",\n    "all-real"\n  ]' in out and "2 classifier trials" in out
    msg = _fails(capsys, "--data", str(data_copy), "--budgets", "all", "--arms",
                 "real,oversample", "--dry-run")
    assert "the arms real,oversample need counts" in msg and "--budgets 50,200,all" in msg
    msg = _fails(capsys, "--data", str(data_copy), "--arms", "real", "--budgets", ",",
                 "--dry-run")
    assert "--budgets ',' names nothing" in msg


@pytest.mark.parametrize("address,needle", [("127.0.0.1:1", "cannot reach"),
                                             ("nonsense", "host:port")])
def test_unreachable_or_malformed_ray_address(capsys, data_copy, address, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), "--address", address, "--dry-run")


def test_unwritable_mlflow_store(capsys, data_copy, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////nonexistent-dir/sub/mlflow.db")
    assert "MLflow" in _fails(capsys, "--data", str(data_copy), "--dry-run")


def test_dry_run_prints_config_and_trial_count(capsys, data_copy):
    assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", "--budgets", "5,20",
                           "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"profile": "smoke"' in out and "4 GAN trainings, 11 classifier trials" in out
    assert not ray.is_initialized()


def test_cli_error_has_no_traceback(data_copy):
    env = {**os.environ, "RAYGAN_CACHE": str(data_copy.parent / "cache")}
    proc = subprocess.run([sys.executable, str(SWEEPS / "full_grid.py"), "--data",
                           str(data_copy / "missing")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: dataset folder")


def test_help_lists_profiles():
    proc = subprocess.run([sys.executable, str(SWEEPS / "full_grid.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "smoke, laptop, overnight, paper" in proc.stdout


def test_resume_errors(capsys, data_copy, tmp_path):
    out = str(tmp_path / "runs")
    assert "needs the --name" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                        "--resume", "--dry-run")
    assert "nothing to resume" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                         "--resume", "--name", "nope", "--dry-run")
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    (tmp_path / "runs" / "taken" / "config.json").write_text("{}")
    assert "--resume to continue" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                            "--profile", "smoke", "--name", "taken", "--dry-run")


def test_resume_reads_the_saved_config(capsys, data_copy, tmp_path):
    from raygan.profiles import profile_config

    saved = profile_config("smoke")
    saved = saved.__class__.from_dict({**saved.to_dict(), "budgets": [7], "seeds": [3, 4]})
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "config.json").write_text(saved.to_json())
    # Flags that would change what is computed are refused on resume (test below); the same
    # values as saved are no change, and the saved config holds.
    assert cli.run_main(["--data", str(data_copy), "--output", str(tmp_path / "runs"),
                         "--name", "old", "--resume", "--budgets", "7,all", "--profile", "smoke",
                         "--gan-steps", "20", "--classes", "benign,malignant", "--no-gpu",
                         "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"sweep_name": "old"' in out
    assert "4 GAN trainings, 12 classifier trials" in out  # 1 budget x 2 seeds, as saved
    # ... but --seeds on a resume adds seeds to the grid (the saved ones stay, in their order)
    assert cli.run_main(["--data", str(data_copy), "--output", str(tmp_path / "runs"),
                         "--name", "old", "--resume", "--seeds", "5,3", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "resume adds seed 5: the grid now has seeds 3, 4, 5" in out
    assert '"seeds": [\n    3,\n    4,\n    5\n  ]' in out
    assert "6 GAN trainings, 18 classifier trials" in out


@pytest.mark.parametrize("argv, named", [
    (("--budgets", "9"), "--budgets 9"),
    (("--budgets", "7,20"), "--budgets 7,20"),
    (("--profile", "paper"), "--profile paper"),
    (("--arms", "real", "--clf-epochs", "5"), "--arms real, --clf-epochs 5"),
    (("--gan-steps", "30",), "--gan-steps 30"),
    (("--resolution", "64", "--no-gpu"), "--resolution 64"),  # --no-gpu is as saved
    (("--gpu",), "--gpu cannot"),
    (("--primary", "auc:real", "--margin", "0.05"), "--primary auc:real, --margin 0.05"),
    (("--exclude-leaks", "--experiment", "other"), "--exclude-leaks, --experiment other"),
    (("--classes", "benign,malignant", "--test-fraction", "0.3"), "--test-fraction 0.3"),
    (("--external-test", "isic=cards/isic2017.toml"), "--external-test isic="),
])
def test_resume_refuses_flags_that_change_the_sweep(capsys, data_copy, tmp_path, argv, named):
    from raygan.profiles import profile_config

    saved = profile_config("smoke")
    saved = saved.__class__.from_dict({**saved.to_dict(), "budgets": [7], "seeds": [3, 4]})
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "config.json").write_text(saved.to_json())
    msg = _fails(capsys, "--data", str(data_copy), "--output", str(tmp_path / "runs"), "--name",
                 "old", "--resume", *argv, "--seeds", "5", "--dry-run")
    assert f"so {named}" in msg and "cannot change" in msg and "only --seeds" in msg, msg
    assert "--seeds" not in msg.split("cannot change")[0]  # a resumed run may add seeds
    # raygan tune adds no seeds on resume: --seeds is one more setting that cannot change
    code = cli.tune_main(["--data", str(data_copy), "--output", str(tmp_path / "runs"),
                          "--name", "old", "--resume", "--seeds", "5", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "so --seeds 5 cannot change" in err[0], err
    assert "raygan tune adds no seeds" in err[0] and not ray.is_initialized()


def test_resume_compares_what_each_gan_trains_with(tmp_path):
    """A tuned cell's settings (--gan-configs) hold over a --gan-* value, on a resume as in the
    run: repeating the run's command line with --resume changes nothing."""
    from raygan.options import resume_conflicts, sweep_config

    tuned = tmp_path / "best.json"
    tuned.write_text(json.dumps({"dcgan@5": {"steps": 12, "batch_size": 8}}))
    argv = ["--profile", "smoke", "--budgets", "5,20", "--gan-steps", "8", "--gan-configs",
            str(tuned), "--name", "t", "--resume"]
    cfg = sweep_config(vars(cli.parse_run_args(argv)))
    assert cfg.gan_config("dcgan", 5).steps == 12 and cfg.gan_config("dcgan", 20).steps == 8
    saved = cfg.from_dict(json.loads(cfg.to_json()))
    assert resume_conflicts(vars(cli.parse_run_args(argv)), saved) == []
    assert resume_conflicts(vars(cli.parse_run_args(argv[:4])), saved) == []
    changed = vars(cli.parse_run_args([*argv[:5], "9", "--gan-width", "8"]))
    assert resume_conflicts(changed, saved) == ["--gan-steps 9"]  # smoke's width is 8


def test_exclude_leaks_drops_recaptured_test_images(capsys, data_copy):
    src = data_copy / "train" / "malignant" / "train_malignant_003.jpg"
    shutil.copy(src, data_copy / "test" / "malignant" / "zz_recapture.jpg")
    assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", "--budgets", "5",
                           "--exclude-leaks", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "leakage audit: 1 test images" in out and "(24 test images left)" in out
    assert '"exclude_leaks": true' in out


@pytest.mark.parametrize("argv, needle", [
    (("--name", "nope"), "no sweep 'nope'"),
    (("--name", "t", "--cas"), "add --fidelity"),
    (("--name", "t", "--fidelity", "--fidelity-images", "0"),
     "--fidelity-images must be between 2 and 50,000, got 0"),
])
def test_report_errors(capsys, tmp_path, argv, needle):
    code = cli.report_main([*argv, "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


@pytest.mark.parametrize("name,needle", [
    ("o'brien", "not a plain name"), ("../../x", "not a plain name"), ("a/b", "not a plain name"),
    (".hidden", "not a plain name"), ('say"hi', "not a plain name"),
    ("x" * 101, "101 characters long"), ("x" * 300, "300 characters long"),
])
def test_sweep_names_are_plain(capsys, data_copy, tmp_path, name, needle):
    out = tmp_path / "runs"
    for extra in ([], ["--resume"]):
        msg = _fails(capsys, "--data", str(data_copy), "--output", str(out), "--name", name,
                     *extra, "--dry-run")
        assert needle in msg and "at most 100" in msg
    code = cli.report_main(["--name", name, "--output", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "x").exists() and not out.exists()


def test_help_states_the_name_rule():
    proc = subprocess.run([sys.executable, str(SWEEPS / "full_grid.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert "letters, digits, '.', '_' and '-', not starting with '.', at most 100" in proc.stdout


def test_find_parent_matches_any_name(tmp_path):
    from raygan import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    ids = {name: tracking.start_parent(uri, exp, name, {}) for name in ("o'brien", "o", "x\\'")}
    for name, run_id in ids.items():  # names from before the rule still resolve exactly
        assert tracking.find_parent(uri, exp, name) == run_id
    assert tracking.find_parent(uri, exp, "o' or '1'='1") is None


def test_non_utf8_file_name_is_one_line(capsys, data_copy):
    shutil.copy(data_copy / "test" / "benign" / "test_benign_000.jpg",
                os.fsdecode(bytes(data_copy / "test" / "benign") + b"/\xff.jpg"))
    assert "b'\\xff.jpg'" in _fails(capsys, "--data", str(data_copy), "--dry-run")


@pytest.mark.parametrize("settings,needle", [
    ({"dcgan@20": {"steps": "100"}}, 'dcgan@20.steps = "100" must be an integer, e.g. 2000'),
    ({"dcgan": {"steps": None}}, "dcgan.steps = null must be an integer"),
    ({"fastgan": {"diffaugment": 5}}, "fastgan.diffaugment = 5 must be a string"),
    ({"dcgan": {"steps": 100.5}}, "dcgan.steps = 100.5 must be an integer"),
    ({"dcgan": {"batch_size": True}}, "dcgan.batch_size = true must be an integer"),
    ({"dcgan": {"use_gpu": 1}}, "dcgan.use_gpu = 1 must be true or false"),
    ({"dcgan": {"lr": "fast"}}, 'dcgan.lr = "fast" must be a number'),
])
def test_gan_configs_of_the_wrong_type(capsys, data_copy, tmp_path, settings, needle):
    path = tmp_path / "best.json"
    path.write_text(json.dumps(settings))
    assert needle in _fails(capsys, "--data", str(data_copy), "--profile", "smoke",
                            "--gan-configs", str(path), "--dry-run")


def test_gan_configs_take_an_integer_learning_rate(capsys, data_copy, tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"dcgan@20": {"lr": 1, "steps": 30}}))
    assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", "--gan-configs",
                           str(path), "--dry-run"]) == 0


def _good_config() -> str:
    from raygan.profiles import profile_config

    return profile_config("smoke").to_json()


@pytest.mark.parametrize("text,needle", [
    (lambda good: good[: len(good) // 2], "is not valid JSON"),
    (lambda good: "", "truncated or empty"),
    (lambda good: "[1, 2]", "holds no raygan config"),
    (lambda good: json.dumps({**json.loads(good), "ema_kimg": 10}), "does not know (ema_kimg)"),
    (lambda good: json.dumps({**json.loads(good), "gan": {"ema_kimg": 1}}),
         "does not know (gan.ema_kimg)"),
    (lambda good: json.dumps({**json.loads(good), "budgets": 5}), "no usable raygan config"),
])
def test_broken_saved_config_on_resume(capsys, data_copy, tmp_path, text, needle):
    folder = tmp_path / "runs" / "old"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(text(_good_config()))
    msg = _fails(capsys, "--data", str(data_copy), "--output", str(tmp_path / "runs"), "--name",
                 "old", "--resume", "--dry-run")
    assert needle in msg and "config.json" in msg and "MLflow parent run" in msg


def test_config_and_lock_writes_are_atomic(tmp_path):
    from raygan.files import write_atomic

    path = tmp_path / "config.json"
    write_atomic(path, '{"a": 1}')
    with pytest.raises(UnicodeEncodeError):  # the write fails half-way: the old file stays
        write_atomic(path, '{"a": 2, "b": "' + "x" * 100000 + '\udcff"}')
    assert path.read_text() == '{"a": 1}' and os.listdir(tmp_path) == ["config.json"]


def test_truncated_best_gan_configs_on_tuning_resume(capsys, data_copy, tmp_path, monkeypatch):
    from sweep_helpers import saved_sweep

    from raygan.orchestrate.lock import LOCK_FILE

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    folder = saved_sweep(tmp_path / "runs", "tn", data_copy)
    (folder / "best_gan_configs.json").write_text('{"dcgan@5": {"batch_size": 16, "st')
    code = cli.tune_main(["--output", str(tmp_path / "runs"), "--name", "tn", "--resume",
                           "--data", str(data_copy), "--num-samples", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not ray.is_initialized(), err
    assert "best_gan_configs.json" in err[0] and "truncated" in err[0]
    assert not (folder / LOCK_FILE).exists()


def test_output_that_is_a_file(capsys, data_copy, tmp_path):
    (tmp_path / "runs").write_text("a file")
    for out in (tmp_path / "runs", tmp_path / "runs" / "sub"):
        msg = _fails(capsys, "--data", str(data_copy), "--output", str(out), "--dry-run")
        assert f"{tmp_path / 'runs'} is a file, not a folder" in msg


def test_output_that_is_not_writable(capsys, data_copy, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):  # root ignores modes: a read-only mount does not
        ro = Path("/proc/sys")
        if os.access(ro, os.W_OK):
            pytest.skip("running as root and /proc/sys is writable: no unwritable folder")
    msg = _fails(capsys, "--data", str(data_copy), "--output", str(ro / "runs"), "--dry-run")
    assert f"{ro} is not writable" in msg


@pytest.mark.parametrize("output", ["/proc/runs", "/proc/self/runs", "/sys/runs"])
def test_output_on_a_kernel_filesystem(capsys, data_copy, output):
    msg = _fails(capsys, "--data", str(data_copy), "--output", output, "--dry-run")
    assert msg.startswith(f"error: --output {output}") and "kernel filesystem" in msg


def test_deleted_mlflow_experiment(capsys, data_copy, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.create_experiment("gone")
    client.delete_experiment(exp)
    capsys.readouterr()
    msg = _fails(capsys, "--data", str(data_copy), "--output", str(tmp_path / "runs"),
                 "--profile", "smoke", "--experiment", "gone", "--name", "d")
    assert f"experiment 'gone' (id {exp})" in msg and "is deleted" in msg
    assert f"mlflow experiments restore --experiment-id {exp}" in msg
    assert not (tmp_path / "runs" / "d" / "sweep.lock").exists()


# s3:// passes this check and is then probed (offline here: test_moved_state covers it)
@pytest.mark.parametrize("storage,ok", [("foo://bar", False), ("http://host/x", False),
                                        ("file:///tmp/r", True), ("relative/folder", True)])
def test_storage_scheme(capsys, data_copy, storage, ok):
    if ok:
        assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", "--storage",
                               storage, "--dry-run"]) == 0
    else:
        msg = _fails(capsys, "--data", str(data_copy), "--storage", storage, "--dry-run")
        assert "unsupported scheme" in msg and "s3://" in msg and "local path" in msg


def test_decompression_bomb_is_one_line(capsys, data_copy, monkeypatch):
    from PIL import Image

    Image.new("RGB", (100, 100)).save(data_copy / "train" / "malignant" / "zz_big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 48 * 48)  # PIL's limit, low: a small file
    assert "zz_big.png is too large" in _fails(capsys, "--data", str(data_copy), "--dry-run")


def test_unreachable_mlflow_server_fails_fast(capsys, data_copy, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on 9
    msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:9" in msg
    assert "MLFLOW_TRACKING_URI" in msg


@pytest.mark.parametrize("server", ["silent", "http"])
def test_ray_address_that_is_not_ray(capsys, data_copy, monkeypatch, server):
    """A port that accepts connections but is no Ray cluster: one line, not a wait."""
    import http.server
    import socket
    import threading

    if server == "silent":  # the kernel completes the handshake; nobody ever answers
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port, stop = sock.getsockname()[1], sock.close
    else:
        class Quiet(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # the server's log would join the CLI's stderr
                pass

        httpd = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port, stop = httpd.server_address[1], httpd.shutdown
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    try:
        msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    finally:
        stop()
    assert f"127.0.0.1:{port} answers, but not as a Ray cluster" in msg and "RAY_ADDRESS" in msg


def test_address_local_is_accepted(capsys, data_copy):
    assert cli.run_main(["--data", str(data_copy), "--profile", "smoke", "--address", "local",
                           "--dry-run"]) == 0
    assert '"address": "local"' in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--no-gpu", "--gpu"])
def test_gpu_flag_holds_for_every_trial(flag):
    """`--no-gpu` takes the GPU off the GAN workers and the classifier trials of `paper`, and
    `--gpu` puts it on both, as the pre-flight check and the stages ask Ray for them."""
    from raygan.orchestrate.sweep import grid_jobs

    jobs = grid_jobs(cli.build_config(cli.parse_run_args(["--profile", "paper", flag])))
    assert {j.what.split(" (")[0] for j in jobs} >= {"each dcgan training", "each classifier trial"}
    gpus = {b.get("GPU", 0) for j in jobs for b in j.bundles if "CPU" in b}
    assert gpus == ({0} if flag == "--no-gpu" else {1})


@pytest.mark.parametrize("value,needle", [
    ("isic", "is not NAME=DATASET"),
    ("a/b=card.toml", "is not a plain name"),
    ("test=card.toml", "the sweep's own test split"),
    ("x y=card.toml", "is not a plain name"),
])
def test_external_test_names_are_plain(value, needle):
    from raygan.errors import RayganError
    from raygan.options import external_tests

    with pytest.raises(RayganError, match=needle):
        external_tests([value])
    with pytest.raises(RayganError, match="twice"):
        external_tests(["isic=a.toml", "isic=b.toml"])
    assert list(external_tests(["isic-2017=a.toml"])) == ["isic-2017"]
