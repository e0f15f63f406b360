"""Every strategy under ``--devices 2 --fabric-strategy ddp`` on the CPU (gloo): the two ranks
train on different halves of each batch stream, so their weights agree after training only if
every trainable part (the model, a domain discriminator, a distillation projection, a source
head) had its gradients all-reduced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graft.engine.config import TrainConfig
from graft.errors import ConfigError
from tests.engine.every_strategy import TRAINED, VARIANTS

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, str(WORKER), str(out), *TRAINED, *VARIANTS], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", [*TRAINED, *VARIANTS])
def test_ranks_end_with_identical_weights(name: str, ddp_runs: Path) -> None:
    ranks = [torch.load(ddp_runs / f"{name}-rank{r}.pt") for r in (0, 1)]
    a, b = (r["state"] for r in ranks)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), (name, key)
    assert ranks[0]["test_accuracy"] > 0.6  # chance is 1/3: it trained
    assert (ddp_runs / name / "metrics.json").is_file()  # rank 0 wrote the run directory


def test_fsdp_is_refused_with_the_reason_until_it_is_tested() -> None:
    with pytest.raises(ConfigError, match="fsdp is not available yet.*shards.*Fix: pass --fabric-strategy ddp"):
        TrainConfig(fabric_strategy="fsdp", devices="2").validate()


def test_more_gpus_than_visible_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs a GPU|GPU\\(s\\) but"):
        TrainConfig(accelerator="gpu", devices=str(torch.cuda.device_count() + 1)).validate()


def test_an_unknown_fabric_strategy_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'ddp'"):
        TrainConfig(fabric_strategy="dpp").validate()


def test_two_machines_under_torchrun_train_as_one(tmp_path: Path) -> None:
    """Two "machines" (torchrun agents on this host, one process each) join one run: rank 0 writes
    the run directory; the other rank writes nothing, not even to the --out it was given."""
    import shutil
    import socket

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    graft_cli = shutil.which("graft", path=str(Path(sys.executable).parent))
    assert torchrun and graft_cli
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [torchrun, "--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "1", "--master-addr",
             "127.0.0.1", "--master-port", str(port), graft_cli, "--quiet", "fit", "--model", "builtin:lenet",
             "--data", "builtin:digits", "--devices", "1", "--num-nodes", "2", "--fabric-strategy", "ddp",
             "--accelerator", "cpu", "--epochs", "2", "--out", str(tmp_path / f"node{node}")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for node in (0, 1)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    import json

    metrics = json.loads((tmp_path / "node0" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5  # 10 classes
    assert not (tmp_path / "node1").exists()


def test_compare_under_ddp_writes_its_tables_once(tmp_path: Path) -> None:
    """graft compare relaunched on two ranks: every fit runs on both, the tables come from rank 0."""
    import shutil

    import numpy as np

    from tests.engine.every_strategy import X, Y

    data = tmp_path / "blobs.npz"
    np.savez(data, X=X, y=Y)
    graft_cli = shutil.which("graft", path=str(Path(sys.executable).parent))
    assert graft_cli
    done = subprocess.run(
        [graft_cli, "compare", "--model", "builtin:mlp", "--data", f"npz:{data}", "--strategies", "scratch,finetune",
         "--seeds", "0", "--epochs", "2", "--devices", "2", "--fabric-strategy", "ddp", "--accelerator", "cpu",
         "--out", str(tmp_path / "cmp")],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Results:") == 1  # one summary, from rank 0
    import pandas as pd

    results = pd.read_csv(tmp_path / "cmp" / "results.csv")
    assert sorted(results["strategy"]) == ["finetune", "scratch"]


def test_several_processes_always_get_ddp_that_tolerates_idle_parameters() -> None:
    from graft.engine.fabric import _strategy

    assert _strategy(TrainConfig(devices="2", accelerator="cpu")) == "ddp_find_unused_parameters_true"  # auto
    assert _strategy(TrainConfig(devices="1", num_nodes=2, accelerator="cpu")) == "ddp_find_unused_parameters_true"
    assert _strategy(TrainConfig(devices="1", accelerator="cpu")) == "auto"


def test_process_count_reads_devices_nodes_and_accelerator() -> None:
    from graft.engine.config import process_count

    assert process_count("2") == 2 and process_count("0,1", 2) == 4 and process_count("3,", "1") == 3
    assert process_count("auto", 1, "cpu") == 1  # auto on the CPU is one process
