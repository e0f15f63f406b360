"""The source-only reference a domain adaptation keeps is ``source-only``'s own model, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import graft
from tests.strategies.test_adaptation import QUIET, shifted_pair, squares

IMAGES: dict[str, Any] = {"image_size": 16, "epochs": 6, "batch_size": 16, "progress": False,
                          "shift_report": False, "max_validation": 64}


def keep_the_start(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """No adapted epoch of ``name`` may replace its start (the reference's own selection untouched)."""
    from graft.strategies.base import STRATEGIES

    monkeypatch.setattr(STRATEGIES.get(name), "start_guard", lambda self: lambda row: False)


def count_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The epochs of every trainer fit from now on, in order (a warm start, a reference, an adaptation)."""
    from graft.engine.trainer import Trainer

    real_fit, fits = Trainer.fit, []

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        fits.append(self.config.epochs)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", counted)
    return fits


def same_weights(a: graft.Run, b: graft.Run) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", ["self-training", "dann", "cdan"])
def test_an_image_run_that_keeps_its_reference_is_source_only_s_model(name: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    keep_the_start(monkeypatch, name)
    source, target = squares(64, seed=0), squares(64, seed=1, invert=True)  # polarity: the randomisation too
    only = graft.fit("builtin:lenet", target, "source-only", source=source, out=tmp_path / "so", **IMAGES)
    kept = graft.fit("builtin:lenet", target, name, source=source, out=tmp_path / name, **IMAGES)
    assert kept.metrics["selected_epoch"] == 0 and kept.metrics["adapt_from"] == "reference"
    assert only.metrics["selected_epoch"] > 0  # source-only's own pick is a trained epoch, not its warm start
    assert kept.metrics["selection_note"].startswith("kept the source-only reference (source-only's own run; "
                                                     "the adaptation's start)")
    assert same_weights(kept, only)
    assert kept.metrics["test_accuracy"] == only.metrics["test_accuracy"]
    assert kept.history[0]["im"] == pytest.approx(only.history[only.metrics["selected_epoch"]]["im"], abs=0)
    a, b = kept.predict(target[0]), only.predict(target[0])
    assert a["prediction"].tolist() == b["prediction"].tolist() and a["confidence"].equals(b["confidence"])


def test_a_table_run_adapting_from_its_warm_start_keeps_source_only_s_model_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep_the_start(monkeypatch, "dann")
    keep_the_start(monkeypatch, "self-training")
    source, target = shifted_pair()
    only = graft.fit("builtin:mlp", target, "source-only", source=source, out=tmp_path / "so", **QUIET)
    kept = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "dann", **QUIET)
    assert kept.metrics["adapt_from"] == "warm-start" and kept.metrics["selected_epoch"] == 0
    assert "the adaptation started from a 2-epoch warm start" in kept.metrics["selection_note"]
    assert same_weights(kept, only)
    # ... and with a few labeled target examples judging, on both sides.
    only_tv = graft.fit("builtin:mlp", target, "source-only", source=source, out=tmp_path / "so_tv", target_val=3,
                        **QUIET)
    kept_tv = graft.fit("builtin:mlp", target, "self-training", source=source, out=tmp_path / "st_tv", target_val=3,
                        **QUIET)
    assert kept_tv.metrics["selected_by"] == only_tv.metrics["selected_by"] == "val"
    assert same_weights(kept_tv, only_tv)


def test_the_reference_leaves_the_adaptation_its_own_randomness_and_skips_an_unused_warm_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = squares(64, seed=0), squares(64, seed=1)
    fits = count_fits(monkeypatch)
    run = graft.fit("builtin:lenet", target, "dann", source=source, out=tmp_path / "ref", warm_start=2, **IMAGES)
    # source-only's warm start (2) and run (4); the adaptation (6 - 2), from the reference: no warm start of its own
    assert fits == [2, 4, 4] and run.metrics["adapt_from"] == "reference"
    fits.clear()
    warm = graft.fit("builtin:lenet", target, "dann", source=source, out=tmp_path / "warm", warm_start=3,
                     adapt_from="warm-start", **IMAGES)
    assert fits == [2, 4, 3, 3] and warm.metrics["warm_start"] == 3
    fits.clear()
    graft.fit("builtin:lenet", target, "dann", source=source, out=tmp_path / "none", warm_start=2,
              reference="warm-start", **IMAGES)
    assert fits == [2, 4]  # no reference: the warm start competes


def test_a_comparison_trains_each_reference_once_and_its_runs_match_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = squares(64, seed=0), squares(64, seed=1)
    fits = count_fits(monkeypatch)
    results = graft.compare("builtin:lenet", target, ["source-only", "dann", "cdan", "dann:source-augment=none"],
                            source=source, seeds=(0,), out=tmp_path / "cmp", **IMAGES)
    # source-only's own run (2 + 4) is the reference: dann and cdan only adapt (4 each); dann without the source
    # randomisation has another source-only run as its reference, trained then (2 + 4), before it adapts (4).
    assert fits == [2, 4, 4, 4, 2, 4, 4]
    reused = results.set_index("strategy")["reference_reused_from"]
    assert reused.isna().tolist() == [True, False, False, True]
    assert Path(reused["cdan"]).parent == tmp_path / "cmp" / "references"
    assert len(list((tmp_path / "cmp" / "references").glob("*.pt"))) == 2
    # The reused reference is the one cdan trains alone: the same run, weight for weight.
    fits.clear()
    alone = graft.fit("builtin:lenet", target, "cdan", source=source, out=tmp_path / "cdan", **IMAGES)
    assert fits == [2, 4, 4] and "reference_reused_from" not in alone.metrics
    compared = graft.load_run(tmp_path / "cmp" / "runs" / "lenet-cdan-s0")
    assert same_weights(compared, alone)
    assert compared.metrics["test_accuracy"] == alone.metrics["test_accuracy"]
    assert compared.history[0]["im"] == alone.history[0]["im"]
