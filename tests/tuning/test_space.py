"""The search space: declared ranges next to the options, resolved per strategy, and --space."""

from __future__ import annotations

import pytest

from graft.engine.config import TrainConfig
from graft.errors import ConfigError
from graft.options import declaration
from graft.strategies import STRATEGIES
from graft.tuning.space import declared_params, search_space


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_has_a_space_inside_its_options_allowed_values(name: str) -> None:
    cls = STRATEGIES.get(name)
    params = declared_params(cls, cls.Config())
    assert params, f"strategy '{name}' is not tunable: no declared range applies to it"
    for p in params:
        config = TrainConfig if p.origin == "the engine" else cls.Config
        declared = declaration(config, p.name)
        assert p.low < p.high
        assert declared.accepts(p.low) and declared.accepts(p.high), (name, p)
        assert not p.log or p.low > 0
        assert p.name not in cls.ignores_engine_options


def test_relative_ranges_follow_each_strategys_own_defaults() -> None:
    mcc = search_space(STRATEGIES.get("mcc"), {})
    finetune = search_space(STRATEGIES.get("finetune"), {})
    assert (mcc["lr"].low, mcc["lr"].high) == pytest.approx((1e-3, 1e-1))  # SGD's 0.01 × [0.1, 10]
    assert (finetune["lr"].low, finetune["lr"].high) == pytest.approx((1e-4, 1e-2))
    assert mcc["lr"].log and mcc["temperature"].origin == "strategy 'mcc'"
    text = search_space(STRATEGIES.get("mcc"), {}, kind="text")  # a text encoder adapts under AdamW at 1e-3
    assert (text["lr"].low, text["lr"].high) == pytest.approx((1e-4, 1e-2))
    # l2sp sets weight decay 0 (it regularises toward the pretrained weights): not searched.
    assert "weight_decay" not in search_space(STRATEGIES.get("l2sp"), {})
    assert {"alpha", "beta", "layer_decay"} <= set(search_space(STRATEGIES.get("l2sp"), {}))


def test_a_range_applies_only_when_its_condition_holds() -> None:
    assert {"lora_r", "lora_alpha"} <= set(search_space(STRATEGIES.get("lora"), {}))
    assert "lora_r" not in search_space(STRATEGIES.get("ia3"), {})
    assert "lora_r" not in search_space(STRATEGIES.get("dann"), {})
    assert search_space(STRATEGIES.get("dann"), {"adapter": "lora"})["lora_r"].integer
    assert "temperature" not in search_space(STRATEGIES.get("contrastive"), {})
    assert "temperature" in search_space(STRATEGIES.get("contrastive"), {"loss": "supcon"})


def test_fixed_options_leave_the_space_and_space_overrides_or_adds() -> None:
    space = search_space(STRATEGIES.get("scratch"), {"lr": "0.01", "epochs": "3"},
                         ["weight-decay=1e-4:1e-2:log", "batch_size=8:64", "warmup_epochs=0:2"])
    assert "lr" not in space
    assert (space["weight_decay"].low, space["weight_decay"].high, space["weight_decay"].log) == (1e-4, 1e-2, True)
    assert space["weight_decay"].origin == "--space"
    assert space["batch_size"].integer and (space["batch_size"].low, space["batch_size"].high) == (8, 64)
    assert not space["warmup_epochs"].integer
    assert space["label_smoothing"].origin == "strategy 'scratch'"  # the declared ones stay
    as_mapping = search_space(STRATEGIES.get("scratch"), {}, {"lr": (1e-4, 1e-2, "log")})
    assert as_mapping["lr"].log and as_mapping["lr"].high == 1e-2


@pytest.mark.parametrize(("texts", "fixed", "expected"), [
    (["lrr=1e-4:1e-2"], {}, "Did you mean 'lr'?"),
    (["test-fraction=0.1:0.5"], {}, "Unknown --space key 'test-fraction'"),  # the test split never moves
    (["lr=1e-2"], {}, "KEY=LOW:HIGH"),
    (["lr"], {}, "KEY=LOW:HIGH"),
    (["lr=a:b"], {}, "must be numbers"),
    (["lr=1e-2:1e-4"], {}, "LOW must be smaller than HIGH"),
    (["weight-decay=0:1e-2:log"], {}, "a log range needs LOW > 0"),
    (["momentum=0.5:1"], {}, "allowed values of --momentum (in [0, 1))"),
    (["batch-size=8.5:64"], {}, "must be integers"),
    (["lr=1e-4:1e-2:logg"], {}, "KEY=LOW:HIGH"),
    (["lr=1e-4:1e-2"], {"lr": "0.01"}, "also fixed"),
])
def test_space_mistakes_say_what_got_and_fix(texts: list[str], fixed: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        search_space(STRATEGIES.get("scratch"), fixed, texts)
    assert expected in str(err.value)
    assert "Fix:" in str(err.value)


def test_a_space_with_everything_fixed_is_refused() -> None:
    with pytest.raises(ConfigError, match="Nothing to tune"):
        search_space(STRATEGIES.get("scratch"), {"lr": 0.01, "weight_decay": 0.0, "label_smoothing": 0.0})
