"""The source-transfer strategies' user errors at the command line: one ``error:`` line, exit 2,
no traceback; classes that may differ are allowed with a note saying so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import blobs


@pytest.fixture
def four_class_npz(tmp_path: Path) -> Path:
    """A source with one class ('3') the 3-class blobs target lacks."""
    x, y = blobs(20, n_classes=4, seed=3)
    path = tmp_path / "four.npz"
    np.savez(path, X=x, y=y)
    return path


def _fit(blobs_npz: Path, out: Path, strategy: str, *extra: str) -> list[str]:
    return ["fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", strategy, "--labels-per-class", "5",
            "--out", str(out), "--no-progress", "--epochs", "1", *extra]


def test_a_source_with_other_classes_is_refused_where_its_examples_join_the_target(  # type: ignore[no-untyped-def]
    graft_cli, user_error, tmp_path: Path, blobs_npz: Path, four_class_npz: Path
) -> None:
    line = user_error(*graft_cli(*_fit(blobs_npz, tmp_path / "iw", "instance-weighting",
                                            "--source", f"npz:{four_class_npz}")),
                           "different class sets", "only in the source: ['3']", "Fix:")
    assert "only in the target: []" in line
    assert not (tmp_path / "iw").exists()


@pytest.mark.filterwarnings("always::graft.notes.GraftNote")  # the CLI prints each note as a 'note:' line
def test_a_source_with_other_classes_is_allowed_with_a_head_per_task(  # type: ignore[no-untyped-def]
    graft_cli, user_error, tmp_path: Path, blobs_npz: Path, four_class_npz: Path
) -> None:
    code, _, err = graft_cli(*_fit(blobs_npz, tmp_path / "mt", "multitask", "--source", f"npz:{four_class_npz}"))
    assert code == 0, err
    said = [line for line in err.splitlines() if "not the same" in line]
    assert len(said) == 1 and said[0].startswith("note:"), err
    assert "4 classes and the target 3" in said[0] and "so that is allowed" in said[0]


def test_a_side_network_that_reads_other_input_is_refused_before_the_run(  # type: ignore[no-untyped-def]
    graft_cli, user_error, tmp_path: Path, blobs_npz: Path, finished_run: Path
) -> None:
    argv = _fit(blobs_npz, tmp_path / "side", "side-tune", "--side-model", "builtin:lenet")
    argv[2] = f"run:{finished_run}"
    user_error(*graft_cli(*argv), "--side-model builtin:lenet", "image input", "table")
    assert not (tmp_path / "side").exists()
    argv = _fit(blobs_npz, tmp_path / "side", "side-tune", "--side-model", "builtin:lenett")
    argv[2] = f"run:{finished_run}"
    user_error(*graft_cli(*argv), "--side-model builtin:lenett", "Did you mean 'lenet'")


def test_co_tuning_without_a_source_head_exits_2(  # type: ignore[no-untyped-def]
    graft_cli, user_error, tmp_path: Path, blobs_npz: Path
) -> None:
    user_error(*graft_cli(*_fit(blobs_npz, tmp_path / "co", "co-tuning")),
                    "'co-tuning' strategy trains the model's source head", "run:DIR")
    assert not (tmp_path / "co").exists()
