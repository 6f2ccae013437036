"""The README's quickstart, line by line, on the real dataset: what a new user types.

The commands are parsed from README.md (between `<!-- quickstart -->` markers), so the README
cannot drift from what is tested. `raygan` is run as `python -m raygan.cli`, the module behind the
console script, so that this checkout's raygan is the one tested. The smoke sweep's output is
held to its promise: at most 60 lines, the last of them raygan's. And the images `raygan
generate` writes are the very images of the GAN's sample grid logged by the sweep.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from raygan.config import load_config
from raygan.eval.plots import image_grid

README = Path(__file__).resolve().parents[1] / "README.md"
MAX_SMOKE_LINES = 60  # the smoke sweep's promise (stdout and stderr together)


def quickstart_commands() -> list[list[str]]:
    """The quickstart's command lines, comments dropped, as argv lists."""
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```\s*<!-- /quickstart -->",
                      README.read_text(), re.S)
    assert block, "README.md lost its quickstart markers"
    return [shlex.split(line, comments=True) for line in block[1].splitlines() if line.strip()]


def test_quickstart_is_raygan_commands():
    commands = quickstart_commands()
    assert [c[:2] for c in commands] == [["raygan", "data"], ["raygan", "data"],
                                         ["raygan", "run"], ["raygan", "report"],
                                         ["raygan", "generate"]]
    assert ["--profile", "smoke"] == commands[2][2:4]


@pytest.mark.ray
@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("RAYGAN_DATA"), reason="RAYGAN_DATA is not set")
def test_readme_quickstart_on_real_data(tmp_path):
    # The default data folder holds the dataset already: `data fetch` finds and checks it.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "skin-cancer-mvb").symlink_to(Path(os.environ["RAYGAN_DATA"]))
    env = {k: v for k, v in os.environ.items() if k not in ("RAYGAN_DATA", "RAY_ADDRESS")}
    env.update({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
                "RAYGAN_CACHE": os.environ.get("RAYGAN_CACHE", str(tmp_path / "cache")),
                "PYTHONPATH": str(README.parent), "PYTHONUNBUFFERED": "1"})
    outputs = []
    for argv in quickstart_commands():
        # stderr joins stdout as a terminal shows them: in the order they were written.
        proc = subprocess.run([sys.executable, "-m", "raygan.cli", *argv[1:]], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=1500)
        assert proc.returncode == 0, (argv, proc.stdout[-3000:])
        outputs.append(proc)
    fetch, check, run, report, generate = outputs
    assert "already there" in fetch.stdout
    assert "2637 train / 660 test images" in check.stdout
    # Quiet: one line per trial and the results; nothing from Ray after raygan's last line.
    lines = run.stdout.strip().splitlines()
    assert len(lines) <= MAX_SMOKE_LINES, "\n".join(lines)
    assert lines[-1].startswith("MLflow UI: mlflow ui --backend-store-uri"), lines[-3:]
    assert "train dcgan n=20 seed=0: gap " in run.stdout
    assert re.search(r"gan:dcgan n=20 seed=0: AUC 0\.\d\d \(\d+ s\)  \[\d/6 done", run.stdout)
    assert "[6/6 done" in run.stdout and "Trial name" not in run.stdout
    assert (tmp_path / "runs" / "first" / "report" / "report.md").is_file(), report.stdout
    # generate: the first 16 images are the GAN's sample grid that the sweep logged.
    out = tmp_path / "samples"
    manifest = (out / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "file,index,latent_seed,gan,budget,seed,in_fill" and len(manifest) == 65
    images = np.stack([np.asarray(Image.open(out / f"{i:06d}.png")).transpose(2, 0, 1)
                       for i in range(64)])
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("raygan").experiment_id
    [gan_run] = client.search_runs([exp], "attributes.run_name = 'train:dcgan-n20-s0'")
    grid = np.asarray(Image.open(client.download_artifacts(gan_run.info.run_id, "samples.png",
                                                           str(tmp_path))))
    cfg = load_config(tmp_path / "runs" / "first" / "config.json")
    assert np.array_equal(np.asarray(image_grid(images[:cfg.num_grid_images])), grid)
