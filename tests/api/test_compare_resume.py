"""An interrupted or extended comparison continues with --resume; an earlier one is never replaced silently."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import graft
from graft.errors import ConfigError


def _compare(blobs_npz: Path, out: Path, seeds: list[int], **kw: object) -> object:
    return graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=seeds, out=out,
                         epochs=2, lr=1e-2, progress=False, **kw)


def test_a_comparison_resumes_reusing_finished_runs_and_is_not_replaced_silently(blobs_npz: Path,
                                                                                 tmp_path: Path) -> None:
    out = tmp_path / "c"
    _compare(blobs_npz, out, [0])
    first = out / "runs" / "mlp-scratch-s0"
    stamp = json.loads((first / "metrics.json").read_text())["train_seconds"]
    with pytest.raises(ConfigError, match=r"holds an earlier comparison .*Fix: pass --resume"):
        _compare(blobs_npz, out, [0, 1])
    results = _compare(blobs_npz, out, [0, 1], resume=True)  # seed 0 reused, seed 1 trained
    assert list(results["seed"]) == [0, 1]  # type: ignore[index]
    assert json.loads((first / "metrics.json").read_text())["train_seconds"] == stamp
    (out / "runs" / "mlp-scratch-s1" / "metrics.json").unlink()  # as if cut off before it finished
    results = _compare(blobs_npz, out, [0, 1], resume=True)
    assert (out / "runs" / "mlp-scratch-s1" / "metrics.json").is_file() and len(results) == 2  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"other data or options: --epochs 2 \(now 3\)"):
        graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=[0], out=out, epochs=3, lr=1e-2,
                      progress=False, resume=True)
    with pytest.raises(ConfigError, match=r"--epochs 2 \(now unset\)"):  # an option left out changes the runs too
        graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=[0], out=out, lr=1e-2,
                      progress=False, resume=True)
    with pytest.raises(ConfigError, match="got both"):
        _compare(blobs_npz, out, [0], resume=True, overwrite=True)
    mine = out / "runs" / "my-notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    _compare(blobs_npz, out, [1], overwrite=True)  # the earlier runs go once it has finished, this one's stay
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["mlp-scratch-s1", "my-notes"]
    assert "confusion" not in pd.read_csv(out / "results.csv").columns


def test_overwrite_never_touches_runs_that_are_no_comparison(blobs_npz: Path, tmp_path: Path) -> None:
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path / "runs" / "mine", epochs=1,
              progress=False)
    _compare(blobs_npz, tmp_path, [0], overwrite=True)  # a project folder holding fit's runs/, no comparison
    assert (tmp_path / "runs" / "mine" / "metrics.json").is_file()


def test_resume_needs_the_folder_it_continues(blobs_npz: Path) -> None:
    with pytest.raises(ConfigError, match="no --out was given"):
        graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=[0], progress=False, resume=True)
    with pytest.raises(ConfigError, match="no --out was given"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", folds=2, progress=False, resume=True)


def test_folds_resume_fold_by_fold(blobs_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", folds=3, out=out, epochs=2, lr=1e-2, progress=False)
    stamp = (out / "fold-0" / "metrics.json").read_text()
    (out / "fold-2" / "metrics.json").unlink()
    cv = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", folds=3, out=out, epochs=2, lr=1e-2,
                   progress=False, resume=True)
    assert len(cv.runs) == 3 and (out / "fold-0" / "metrics.json").read_text() == stamp
    assert (out / "fold-2" / "metrics.json").is_file()


def test_compare_resume_through_the_cli(graft_cli, blobs_npz: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = ("-q", "compare", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "--strategies", "scratch",
            "--seeds", "0", "--epochs", "2", "--out", tmp_path / "c")
    code, _, err = graft_cli(*base)
    assert code == 0, err
    code, _, err = graft_cli(*base)
    assert code == 2 and "holds an earlier comparison" in err and "Traceback" not in err
    code, _, err = graft_cli(*base, "--resume")
    assert code == 0, err


def test_a_comparison_without_a_model_is_refused(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="got no model"):
        graft.compare([], f"npz:{blobs_npz}", ["scratch"], seeds=[0], out=tmp_path / "c", progress=False)
