"""A finished run that lacks the artifact a command needs is named, with the artifact's path,
and told apart from a run of an older raygan that never wrote it."""

from pathlib import Path
from urllib.parse import urlparse

import pytest

from raygan import tracking
from raygan.artifacts import CLASSIFIER_FILE
from raygan.errors import RayganError
from raygan.tracking.store import TEST_DATA_TAG


@pytest.mark.parametrize("tagged", [True, False])
def test_a_deleted_classifier_file_names_the_run_and_its_path(tmp_path, tagged):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {}, {})
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    tags = {"raygan.kind": "classifier", **({TEST_DATA_TAG: "abc"} if tagged else {})}
    with tracking.child_run(ctx, "real-n10-s0", {}, tags) as run:
        run.artifact(b"weights", CLASSIFIER_FILE)
    from mlflow.tracking import MlflowClient

    info = MlflowClient(uri).get_run(run.run_id).info
    (Path(urlparse(info.artifact_uri).path) / CLASSIFIER_FILE).unlink()
    with pytest.raises(RayganError) as exc:
        tracking.classifier_file(uri, run.run_id, str(tmp_path / "dl"))
    msg = str(exc.value)
    assert f"run real-n10-s0 ({run.run_id}) holds no {CLASSIFIER_FILE} " \
           f"({info.artifact_uri}/{CLASSIFIER_FILE} is missing)" in msg
    assert "raygan run --resume --name s" in msg and "\n" not in msg
    if tagged:  # its raygan tagged the test data, and saved weights long before that
        assert "it was deleted from the run" in msg and "older raygan" not in msg
    else:
        assert "either it was deleted from the run, or an older raygan" in msg
