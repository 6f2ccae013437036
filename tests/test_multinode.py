"""The smoke sweep on a real two-node Ray cluster on this machine, with shared storage."""

import pytest
from mlflow.tracking import MlflowClient
from ray.cluster_utils import Cluster
from sweep_helpers import check_mlflow, run_sweep_cli


@pytest.mark.ray
def test_smoke_sweep_spreads_over_two_nodes(tiny_dataset, tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        arms = ("real", "oversample", "classic", "gan:dcgan", "all-real")
        _, uri = run_sweep_cli(tmp_path, "--profile", "smoke", "--data", str(tiny_dataset),
                               "--budgets", "5,20", "--gan-steps", "4", "--arms", ",".join(arms),
                               "--address", cluster.address, "--storage", str(tmp_path / "shared"))
    finally:
        cluster.shutdown()
    check_mlflow(uri, arms, (5, 20), world_size=1)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan")
    nodes = {r.data.tags.get("raygan.node") for r in client.search_runs([exp.experiment_id])
             if r.data.tags.get("raygan.kind") in ("gan", "classifier")}
    assert len(nodes - {None}) == 2, nodes
    assert any((tmp_path / "shared").iterdir()), "nothing reached the shared storage path"
