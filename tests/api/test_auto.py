"""--strategy auto: what is measured, which rule fires, auto.md, budgets and several models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import graft
from graft.auto import RULES, Measurements, choose, parse_budget
from graft.data import from_arrays
from graft.errors import ConfigError


def _m(**kw: object) -> Measurements:
    base = {"kind": "image", "classes": 10, "labels_per_class": 10, "labeled": 100, "unlabeled": 700,
            "pretrained": True, "layout": "supervised", "probe_val_accuracy": 0.9}
    return Measurements(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("measured", "strategy"), [
    ({"pretrained": False}, "scratch"),
    ({"pretrained": False, "layout": "adaptation", "labels_per_class": None}, "self-training"),  # B1 trains a random LeNet
    ({"layout": "adaptation", "labels_per_class": None}, "self-training"),
    ({"layout": "adaptation", "labels_per_class": None, "polarity_differs": True}, "self-training"),  # DA suite + held out
    ({"kind": "text", "layout": "adaptation", "labels_per_class": None}, "mcc"),  # B5 and b5r
    ({"layout": "labeled-source", "labels_per_class": 1}, "multitask"),
    ({"layout": "labeled-source", "labels_per_class": 5}, "mcc"),
    ({"probe_val_accuracy": 0.99}, "linear-probe"),
    ({"kind": "text", "labels_per_class": 5}, "linear-probe"),  # with the unlabeled rest: self-trained head
    ({"kind": "text", "labels_per_class": 5, "unlabeled": 0}, "contrastive"),
    ({"kind": "text", "labels_per_class": None, "labeled": 2000}, "finetune"),
    ({"labels_per_class": 1}, "semi-supervised"),
    ({"labels_per_class": 1, "unlabeled": 0}, "finetune"),
    ({"labels_per_class": 5}, "semi-supervised"),
    ({"labels_per_class": None, "unlabeled": 0}, "finetune"),
    ({"kind": "table", "labels_per_class": None, "unlabeled": 0}, "finetune"),
])
def test_the_first_rule_that_holds_names_the_strategy(measured: dict, strategy: str) -> None:
    m = _m(**measured)
    rule = next(r for r in RULES if r.test(m))
    assert rule.strategy == strategy
    assert any(tag in rule.evidence for tag in ("B1", "B2", "B3", "B5", "B9", "B11"))  # every rule cites its table


def test_budgets_parse_times_and_memory_and_refuse_the_rest() -> None:
    assert parse_budget("10m") == ("seconds", 600.0) and parse_budget(90) == ("seconds", 90.0)
    assert parse_budget("2GB") == ("memory", 2 * 2**30)
    with pytest.raises(ConfigError, match="Allowed: seconds"):
        parse_budget("fast")


def test_auto_on_a_pretrained_table_model_measures_then_runs_the_pick(finished_run: Path, blobs_npz: Path,
                                                                      tmp_path: Path) -> None:
    run = graft.fit(f"run:{finished_run}", f"npz:{blobs_npz}", strategy="auto", labels_per_class=3,
                    out=tmp_path / "a", epochs=2, progress=False)
    m = run.metrics
    assert m["strategy"] == m["auto_strategy"] and m["auto_rule"]
    # a table with an unlabeled rest is not an image: the default rule fires unless the probe is near-perfect
    assert m["auto_strategy"] in ("finetune", "linear-probe")
    text = (tmp_path / "a" / "auto.md").read_text()
    assert "linear-probe validation accuracy" in text and "**used**" in text and "K=3" in text


def test_auto_picks_the_domain_adaptation_rule_without_target_labels(finished_run: Path, make_source) -> None:
    source, target = make_source("src", seed=1), make_source("tgt", seed=2, shift=0.5)
    choice = choose(f"run:{finished_run}", target, source=source)
    assert choice.strategy == "self-training" and choice.options == {} and choice.measurements.layout == "adaptation"
    assert choice.measurements.proxy_a_distance is not None  # the shift is measured, not assumed


def test_auto_ranks_several_models_and_uses_the_winner(finished_run: Path, blobs_npz: Path) -> None:
    choice = choose([f"run:{finished_run}", "builtin:mlp"], f"npz:{blobs_npz}", labels_per_class=5)
    assert set(choice.measurements.ranked) == {f"run:{finished_run}", "builtin:mlp"}
    assert choice.model == choice.measurements.ranked[0]
    assert "Models ranked" in choice.markdown()


def test_a_budget_shortens_the_pick_or_is_refused_with_what_the_cheapest_needs(finished_run: Path,
                                                                               blobs_npz: Path) -> None:
    x, y = np.load(blobs_npz)["X"], np.load(blobs_npz)["y"]
    data = from_arrays(np.tile(x, (20, 1)), np.tile(y, 20), name="blobs-large")
    choice = choose(f"run:{finished_run}", data, budget="1h")
    assert "fits" in " ".join(choice.notes)
    with pytest.raises(ConfigError, match="less than the cheapest strategy needs"):
        choose(f"run:{finished_run}", data, budget="0.001")
    params = choice.measurements.params
    assert params
    between = f"{params * 8 / 2**20:.4f}MB"  # above the weights (4 B each), below training them (16 B each)
    assert choose(f"run:{finished_run}", data, budget=between).strategy == "linear-probe"
    with pytest.raises(ConfigError, match="below what any strategy needs"):
        choose(f"run:{finished_run}", data, budget=f"{params * 2 / 2**20:.4f}MB")


def test_auto_through_the_cli_prints_why_and_refuses_misuse(graft_cli, finished_run: Path, blobs_npz: Path,
                                                            tmp_path: Path) -> None:
    code, out, err = graft_cli("fit", "--model", f"run:{finished_run}", "--data", f"npz:{blobs_npz}", "--strategy",
                               "auto", "-k", "3", "--epochs", "1", "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    assert "auto:" in out and "rule:" in out and (tmp_path / "r" / "auto.md").exists()
    code, _, err = graft_cli("fit", "--model", f"run:{finished_run}", "--data", f"npz:{blobs_npz}", "--budget", "1h")
    assert code == 2 and "only --strategy auto" in err and "Traceback" not in err


def test_compare_runs_auto_beside_named_strategies(finished_run: Path, blobs_npz: Path, tmp_path: Path) -> None:
    results = graft.compare(f"run:{finished_run}", f"npz:{blobs_npz}", ["auto", "linear-probe"], seeds=[0],
                            labels_per_class=3, out=tmp_path / "c", epochs=1, progress=False)
    auto = results[results["strategy"] == "auto"].iloc[0]
    assert auto["auto_strategy"] and 0 <= auto["test_accuracy"] <= 1
    assert set(results["strategy"]) == {"auto", "linear-probe"}


def test_an_interrupted_auto_run_resumes_with_its_recorded_choice(tmp_path: Path, blobs_npz: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   fit_interrupted: Callable[..., None]) -> None:
    import graft.auto

    options = {"epochs": 4, "lr": 1e-2, "checkpoint_every": 0, "progress": False}
    fit_interrupted("builtin:mlp", f"npz:{blobs_npz}", strategy="auto", out=tmp_path, **options)

    def measure_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("a resumed auto run measured again")

    monkeypatch.setattr(graft.auto, "choose", measure_again)
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="auto", out=tmp_path, resume=True, **options)
    assert run.metrics["auto_strategy"] == "scratch" and run.metrics["epochs_run"] == 4
    assert "rule: " in run.metrics["auto_why"] and (tmp_path / "auto.md").is_file()
