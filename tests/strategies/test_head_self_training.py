"""--self-train-rounds: a probe head refitted with pseudo-labels on cached unlabeled features."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import graft
from graft.errors import ConfigError
from graft.strategies.head_self_training import estimate_prior, self_train_head
from graft.strategies.linear_probe import LinearProbeConfig, fit_head_on_features


def _gaussians(rng: np.random.Generator, n: int, spread: tuple[float, float],
               share0: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes at x = -2 and x = +2, ``2n`` in all, ``share0`` of them class 0, with standard
    deviations ``spread`` along x and y."""
    n0 = round(2 * n * share0)
    x = np.r_[np.c_[rng.normal(-2, spread[0], n0), rng.normal(0, spread[1], n0)],
              np.c_[rng.normal(2, spread[0], 2 * n - n0), rng.normal(0, spread[1], 2 * n - n0)]]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(np.repeat([0, 1], [n0, 2 * n - n0]))


def _self_train(labeled: list[list[float]], spread: tuple[float, float], share0: float = 0.5,
                prior: str = "labeled") -> tuple[float, float, list[dict[str, Any]], list[float]]:
    """Test accuracy of the head on two labels per class alone and after 4 rounds; the rows and
    the class shares the rounds admitted by. ``share0``: class 0's share of every split but the labeled."""
    rng = np.random.default_rng(0)
    f_tr, y_tr = torch.tensor(labeled), torch.tensor([0, 0, 1, 1])
    (f_va, y_va), (f_u, _), (f_te, y_te) = (_gaussians(rng, n, spread, share0) for n in (30, 200, 200))
    model = SimpleNamespace(num_classes=2, head=nn.Linear(2, 2), head_hidden=())

    def fit(f: torch.Tensor, y: torch.Tensor) -> list[dict[str, float]]:
        return fit_head_on_features(model, f, y, f_va, y_va, LinearProbeConfig(), 0)  # type: ignore[arg-type]

    def accuracy() -> float:
        with torch.no_grad():
            return float((model.head(f_te).argmax(1) == y_te).float().mean())

    fit(f_tr, y_tr)
    alone = accuracy()
    rows, shares = self_train_head(model, f_tr, y_tr, f_u, 4, fit, prior=prior, y_val=y_va)  # type: ignore[arg-type]
    return alone, accuracy(), rows, shares


def test_pseudo_labels_move_a_few_label_boundary_into_the_gap() -> None:
    # Two labels per class off to one side: their boundary is tilted and cuts into class 0.
    alone, after, rows, _ = _self_train([[-3.0, -1.0], [-2.5, -1.5], [0.5, 1.0], [1.0, 1.5]], (1.0, 1.0))
    assert alone < 0.9 and after > alone + 0.05
    assert [r["round"] for r in rows] == [0, 1, 2, 3, 4]
    counts = [r["pseudo_labels"] for r in rows]
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] > 350  # a growing share, up to nearly all
    assert max(r["val_accuracy"] for r in rows[1:]) > rows[0]["val_accuracy"]


def test_the_labeled_head_is_kept_when_validation_says_pseudo_labels_hurt() -> None:
    # Long thin classes labeled at opposite ends: the tilted boundary's confident pseudo-labels
    # only reinforce it, validation falls, and round 0's head stays.
    alone, after, rows, _ = _self_train([[-2.0, 4.0], [-1.9, 3.0], [2.0, -4.0], [1.9, -3.0]], (0.4, 3.0))
    assert all(r["val_accuracy"] < rows[0]["val_accuracy"] for r in rows[1:])
    assert after == alone


def test_em_recovers_the_class_shares_behind_posteriors_fitted_on_even_ones() -> None:
    # Exact posteriors of two unit Gaussians at -2 and +2 under an even prior, for examples drawn
    # 80 / 20: EM (Saerens et al. 2002) finds the 80 / 20 the posteriors do not show.
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(-2, 1, 8000), rng.normal(2, 1, 2000)]
    p1 = 1 / (1 + np.exp(-4 * x))  # N(2,1) / (N(-2,1) + N(2,1))
    probs = torch.tensor(np.c_[1 - p1, p1])
    assert float(probs.argmax(1).double().mean()) == pytest.approx(0.2, abs=0.02)  # hard counts are close...
    shares = estimate_prior(probs, torch.tensor([0.5, 0.5]))
    assert shares.tolist() == pytest.approx([0.8, 0.2], abs=0.01)
    # The shares a model was fitted on are divided out: the same data's posteriors from a model
    # fitted on 20 / 80 (odds scaled by 4 toward class 1) still give 80 / 20.
    odds = 4 * p1 / (1 - p1)
    skewed = torch.tensor(np.c_[1 / (1 + odds), odds / (1 + odds)])
    assert estimate_prior(skewed, torch.tensor([0.2, 0.8])).tolist() == pytest.approx([0.8, 0.2], abs=0.01)


def test_estimated_shares_keep_a_skewed_task_skewed() -> None:
    # 85 % of the unlabeled and test examples are class 0 and the classes overlap; an even split
    # of pseudo-labels would hand class 1 as many as class 0 and push the boundary into class 0.
    labeled = [[-2.5, 0.0], [-1.5, 0.5], [1.5, 0.0], [2.5, -0.5]]
    _, even, _, even_shares = _self_train(labeled, (1.5, 1.0), share0=0.85, prior="even")
    _, estimated, rows, shares = _self_train(labeled, (1.5, 1.0), share0=0.85)
    assert even_shares == [0.5, 0.5] and shares[0] == pytest.approx(0.85, abs=0.06)
    assert rows[-1]["pseudo_labels"] > 350 and estimated > even + 0.02

def test_linear_probe_self_trains_on_the_unlabeled_rest(blobs_npz: Path, tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="linear-probe", labels_per_class=2,
                    self_train_rounds=3, out=tmp_path / "r", progress=False)
    m = run.metrics
    assert m["n_train_labeled"] == 6 and m["test_accuracy"] > 0.6
    assert [row["round"] for row in run.history] == [0, 1, 2, 3]
    assert m["self_train_round"] == run.history[m["self_train_round"]]["round"]
    assert len(m["self_train_val_accuracy"]) == 4
    assert run.history[-1]["pseudo_labels"] > 0
    assert len(graft.load_run(tmp_path / "r").predict(f"npz:{blobs_npz}")) == 90


def test_extra_unlabeled_data_is_taken_with_the_option(blobs_npz: Path, tmp_path: Path) -> None:
    from tests.conftest import blobs

    x_extra, _ = blobs(40, seed=7)
    np.savez(tmp_path / "extra.npz", X=x_extra)  # no labels
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="linear-probe", self_train_rounds=2,
                    unlabeled=f"npz:{tmp_path / 'extra.npz'}", out=tmp_path / "r", progress=False)
    assert run.history[-1]["pseudo_labels"] > 0  # every training row labeled: the extra rows are the stream


def test_rounds_without_unlabeled_examples_say_how_to_get_them(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="every training example is labeled.*--labels-per-class K"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="linear-probe", self_train_rounds=2,
                  out=tmp_path / "r", progress=False)


def test_unlabeled_data_without_rounds_is_refused_with_the_option_named(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'linear-probe' does not learn.*--self-train-rounds"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="linear-probe", unlabeled=f"npz:{blobs_npz}",
                  out=tmp_path / "r", progress=False)


def test_contrastive_refits_its_tuned_head_with_pseudo_labels(tiny_bert: Path, sentiment_csv: Path,
                                                               tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "contrastive", text_column="review",
                    labels_per_class=6, self_train_rounds=2, out=tmp_path / "c", epochs=3, lr=0.05,
                    progress=False)
    m = run.metrics
    assert m["test_accuracy"] > 0.7, m
    assert len(m["self_train_val_accuracy"]) == 3 and m["self_train_round"] in (0, 1, 2)
    assert len(graft.load_run(tmp_path / "c").predict(f"csv:{sentiment_csv}", text_column="review")) > 0


def test_auto_on_few_labeled_texts_with_an_unlabeled_rest_self_trains_the_probe(
        tiny_bert: Path, sentiment_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import graft.auto

    measure = graft.auto._measure

    def below_near_perfect(*args: Any, **kwargs: Any) -> Any:  # the tiny encoder's probe is too good to need it
        m = measure(*args, **kwargs)
        m.probe_val_accuracy = min(m.probe_val_accuracy or 0.0, 0.9)
        return m

    monkeypatch.setattr(graft.auto, "_measure", below_near_perfect)
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "auto", text_column="review", labels_per_class=4,
                    out=tmp_path / "a", progress=False)
    m = run.metrics
    assert m["auto_strategy"] == "linear-probe" and m["auto_rule"] == "text, few labels and an unlabeled rest"
    assert len(m["self_train_val_accuracy"]) == 21  # round 0 and 20 rounds over the unlabeled rest
    assert "→ linear-probe --self-train-rounds 20 (rule: text, few labels" in (tmp_path / "a" / "auto.md").read_text()


def test_rounds_leave_contrastive_training_as_it_is(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    # The unlabeled examples are read once after training: the loop draws no unlabeled batches,
    # so its epochs, and so the tuned encoder, are those of a run without rounds.
    common = {"text_column": "review", "labels_per_class": 6, "epochs": 2, "lr": 0.05, "progress": False}
    plain = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "contrastive", out=tmp_path / "p", **common)
    rounds = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "contrastive", out=tmp_path / "r",
                       self_train_rounds=2, **common)
    losses = [[row["train_loss"] for row in run.history if "train_loss" in row] for run in (plain, rounds)]
    assert losses[0] and losses[0] == pytest.approx(losses[1])


def test_a_prior_without_rounds_is_refused_not_ignored(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--self-train-prior em.*got --self-train-rounds 0.*Fix: add --self-train-rounds"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "linear-probe", self_train_prior="em", out=tmp_path / "r",
                  progress=False)
