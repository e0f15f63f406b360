"""Two ``graft tune`` processes on one stored study share its trials (as on two machines)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna


def test_two_worker_processes_fill_one_study(tmp_path: Path, tune_npz: Path) -> None:
    graft_cli = shutil.which("graft", path=str(Path(sys.executable).parent))
    assert graft_cli
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    argv = [graft_cli, "--quiet", "tune", "--model", "builtin:mlp", "--data", f"npz:{tune_npz}", "--strategy",
            "scratch", "--trials", "6", "--storage", storage, "--study", "shared", "--epochs", "3", "--batch-size",
            "16", "--val-fraction", "0.3", "--mlp-width", "16", "--mlp-depth", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([*argv, "--out", str(tmp_path / f"worker{i}")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert 6 <= len(finished) <= 8  # --trials, plus at most one trial a worker had started
    assert sum(bool(t.user_attrs.get("defaults")) for t in finished) == 1  # the defaults run once
    ran = {i: sorted(p.name for p in (tmp_path / f"worker{i}" / "trials").iterdir()) for i in (0, 1)}
    assert ran[0] and ran[1] and not set(ran[0]) & set(ran[1])  # both worked, never on the same trial
    for i in (0, 1):  # each worker's report covers the whole study
        assert "## Trials" in (tmp_path / f"worker{i}" / "tune.md").read_text()


OPEN_ONE = """
import sys
from graft.tuning.study import open_storage, open_study
study, created = open_study("shared", open_storage(sys.argv[1]), {"direction": "maximize", "strategy": "scratch"},
                            sampler=None, pruner=None)
print(int(created))
"""


def test_of_workers_opening_a_new_study_together_exactly_one_creates_it(tmp_path: Path) -> None:
    # Only the creator seeds the defaults trial, so exactly one may say it created the study.
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_ONE, storage], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    assert sorted(int(out.strip()) for out, _ in results) == [0, 0, 0, 1]


def test_tune_refuses_several_devices_and_says_to_start_workers(graft_cli, user_error, tune_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli("tune", "--model", "builtin:mlp", "--data", f"npz:{tune_npz}", "--strategy", "scratch",
                               "--trials", "2", "--devices", "2", "--fabric-strategy", "ddp")
    user_error(code, out, err, "--devices 2", "Allowed: --devices 1", "one graft tune worker per device")
