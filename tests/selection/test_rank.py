"""graft.rank: candidates built like fit builds them, scored on the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import graft
from graft.data import load_source, make_splits
from graft.engine import features as feature_cache
from graft.errors import ConfigError, DataError, MissingPathError, SpecError
from graft.ranking import parse_candidate, read_models_file
from graft.selection.transferability import NO_SOURCE_HEAD

SMALL = {"mlp_width": "8", "mlp_depth": "1"}  # tiny random MLPs: a ranking in well under a second


def test_rank_scores_each_candidate_and_writes_the_table_report_and_chart(
        tmp_path: Path, blobs_npz: Path, finished_run: Path) -> None:
    models = ["builtin:mlp?mlp_width=4", "builtin:mlp?mlp_width=32", f"run:{finished_run}"]
    result = graft.rank(models, f"npz:{blobs_npz}", scores="logme,leep,nce,knn", out=tmp_path / "rank",
                        progress=False)
    table = result.table
    assert sorted(table["model"]) == sorted(models)
    assert list(table.columns[:5]) == ["model", "logme", "leep", "nce", "knn"]
    assert table["consensus_rank"].is_monotonic_increasing
    assert result.best == table["model"].iloc[0]
    run_row = table.set_index("model").loc[f"run:{finished_run}"]
    assert run_row["source_head"] == "3 classes (its run)" and np.isfinite(run_row["leep"])
    assert table.set_index("model").loc["builtin:mlp?mlp_width=4", "feature_dim"] == 4
    assert table.loc[table["model"] != f"run:{finished_run}", "leep"].isna().all()
    # The consensus averages only the scores every model has.
    assert result.consensus_scores == ["logme", "knn"]
    assert result.winners()["leep"] == f"run:{finished_run}"

    csv = pd.read_csv(tmp_path / "rank" / "rank.csv")
    assert list(csv["model"]) == list(table["model"])
    assert {"seconds", "feature_dim", "consensus_rank"} <= set(csv.columns)
    report = (tmp_path / "rank" / "rank.md").read_text()
    assert NO_SOURCE_HEAD in report and f"**Consensus: {result.best}**" in report
    assert (tmp_path / "rank" / "plots" / "rank.png").stat().st_size > 1000


def test_rank_sees_only_the_labeled_training_split_and_reuses_cached_features(
        blobs_npz: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"npz:{blobs_npz}"
    splits = make_splits(load_source(data), seed=1, labels_per_class=4)
    seen: list[int] = []
    real_extract = feature_cache.extract_features

    def spy(backbone, dataset, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(dataset))
        return real_extract(backbone, dataset, **kwargs)

    monkeypatch.setattr(feature_cache, "extract_features", spy)
    forwards: list[int] = []
    real_loader = feature_cache.DataLoader
    monkeypatch.setattr(feature_cache, "DataLoader", lambda *a, **k: forwards.append(1) or real_loader(*a, **k))
    first = graft.rank("builtin:mlp", data, labels_per_class=4, seed=1, scores="logme", progress=False, **SMALL)
    assert first.n_train == len(splits.train) == 12 and seen == [12]
    calls = len(forwards)
    second = graft.rank("builtin:mlp", data, labels_per_class=4, seed=1, scores="logme", progress=False, **SMALL)
    assert len(forwards) == calls  # the same weights on the same rows: features come from the cache
    assert second.table["logme"].iloc[0] == first.table["logme"].iloc[0]


def test_rank_verify_fine_tunes_the_top_models_and_correlates_the_scores(tmp_path: Path, blobs_npz: Path) -> None:
    models = ["builtin:mlp?mlp_width=4", "builtin:mlp?mlp_width=16", "builtin:mlp?mlp_width=2"]
    result = graft.rank(models, f"npz:{blobs_npz}", scores="logme,knn", verify=2, out=tmp_path, epochs=2,
                        progress=False)
    verified = result.table["test_accuracy"].notna()
    assert verified.sum() == 2 and verified.iloc[:2].all()  # the two best by consensus
    assert (tmp_path / "verify").is_dir() and len(list((tmp_path / "verify").iterdir())) == 2
    corr = result.correlations
    assert list(corr["score"]) == ["logme", "knn", "consensus"]
    assert corr["models"].eq(2).all()
    assert set(corr["top1_pick"]) <= set(result.table["model"].iloc[:2])
    assert "Check: fine-tuned accuracy" in (tmp_path / "rank.md").read_text()
    assert (tmp_path / "verify.csv").exists()
    # a second ranking into the same folder reuses the fine-tunes with --resume, never replaces them silently
    with pytest.raises(ConfigError, match="holds an earlier verification"):
        graft.rank(models, f"npz:{blobs_npz}", scores="logme,knn", verify=2, out=tmp_path, epochs=2, progress=False)
    stamps = {p.name: (p / "metrics.json").read_text() for p in (tmp_path / "verify").iterdir()}
    again = graft.rank(models, f"npz:{blobs_npz}", scores="logme,knn", verify=2, out=tmp_path, epochs=2,
                       progress=False, resume=True)
    assert {p.name: (p / "metrics.json").read_text() for p in (tmp_path / "verify").iterdir()} == stamps
    assert again.table["test_accuracy"].tolist()[:2] == result.table["test_accuracy"].tolist()[:2]
    with pytest.raises(ConfigError, match=r"other options: --epochs 2 \(now 3\)"):
        graft.rank(models, f"npz:{blobs_npz}", scores="logme", verify=2, out=tmp_path, epochs=3, progress=False,
                   resume=True)
    with pytest.raises(ConfigError, match="applies to the fine-tunes of --verify"):
        graft.rank(models, f"npz:{blobs_npz}", scores="logme", out=tmp_path, progress=False, resume=True)


def test_rank_ranks_text_encoders_with_their_pooling_as_candidates(tiny_bert: Path, sentiment_csv: Path) -> None:
    models = [f"hf:{tiny_bert}", f"hf:{tiny_bert}?pooling=cls"]
    result = graft.rank(models, f"csv:{sentiment_csv}", text_column="review", scores="logme,hscore,knn",
                        progress=False)
    assert sorted(result.table["model"]) == sorted(models)
    assert result.table["feature_dim"].eq(16).all()
    assert result.table["logme"].nunique() == 2  # mean and first-token pooling give different features


def test_candidates_parse_per_model_options_and_zoo_files(tmp_path: Path) -> None:
    c = parse_candidate("builtin:minilm?pooling=cls&max-length=64")
    assert (c.spec, c.label, c.options) == ("builtin:minilm", "builtin:minilm?pooling=cls&max-length=64",
                                           {"pooling": "cls", "max_length": "64"})
    assert parse_candidate("run:runs/what?/x").spec == "run:runs/what?/x"  # a '?' in a path stays
    with pytest.raises(ConfigError, match="not a model option.*split-seed"):
        parse_candidate("builtin:lenet?split_seed=3")
    with pytest.raises(ConfigError, match="Did you mean 'pretrained'"):
        parse_candidate("builtin:lenet?pretrainde=false")
    zoo = tmp_path / "zoo.txt"
    zoo.write_text("# the zoo\nbuiltin:lenet\n\nbuiltin:lenet?pretrained=false  # a control\n")
    assert read_models_file(zoo) == ["builtin:lenet", "builtin:lenet?pretrained=false"]
    zoo.write_text("# nothing\n\n")
    with pytest.raises(ConfigError, match="names no model"):
        read_models_file(zoo)
    with pytest.raises(MissingPathError):
        read_models_file(tmp_path / "missing.txt")


def test_rank_refuses_unusable_requests_before_building_models(blobs_npz: Path, tmp_path: Path) -> None:
    data = f"npz:{blobs_npz}"
    with pytest.raises(DataError, match="'knn' needs at least 2 examples.*--labels-per-class 2"):
        graft.rank("builtin:mlp", data, labels_per_class=1, scores="logme,knn", progress=False)
    with pytest.raises(SpecError, match="Did you mean 'logme'"):
        graft.rank("builtin:mlp", data, scores="logmee", progress=False)
    with pytest.raises(ConfigError, match="--epochs would have no effect.*--verify"):
        graft.rank("builtin:mlp", data, epochs=3, progress=False)
    with pytest.raises(ConfigError, match="Did you mean 'epochs'"):
        graft.rank("builtin:mlp", data, verify=1, epohcs=3, progress=False)
    with pytest.raises(ConfigError, match="at least one model"):
        graft.rank([], data, progress=False)
    with pytest.raises(SpecError, match="Unknown built-in model"):
        graft.rank(["builtin:mlp", "builtin:nope"], data, progress=False)
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    one_class = tmp_path / "one.npz"
    np.savez(one_class, X=x, y=np.zeros(20, dtype=np.int64))
    with pytest.raises(DataError):
        graft.rank("builtin:mlp", f"npz:{one_class}", progress=False)


def test_scores_equal_up_to_rounding_noise_tie() -> None:
    from graft.ranking.result import comparable, per_score_ranks

    table = pd.DataFrame({"model": ["a", "b", "c"], "hscore": [9.000000000000004, 8.999999999999998, 8.5]})
    assert per_score_ranks(table, ["hscore"])["hscore"].tolist() == [1.5, 1.5, 3.0]
    assert np.isnan(comparable(np.array([np.nan]))[0]) and comparable(np.array([0.0]))[0] == 0.0


def test_modules_and_repeated_specs_become_distinct_candidates() -> None:
    import torch

    from graft.ranking.candidates import collect_candidates

    found = collect_candidates([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), "builtin:mlp", "builtin:mlp"])
    assert [c.label for c in found] == ["Linear", "Linear #2", "builtin:mlp"]
