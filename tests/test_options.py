"""Options declared once (graft.options): declarations, conversion, validation, listings, docs."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from graft.cli.docs import options_markdown
from graft.engine.config import TrainConfig
from graft.errors import ConfigError, did_you_mean, edit_distance
from graft.models.adapters import AdapterOptions
from graft.option_groups import check_unused, option_groups, option_rows, split_options
from graft.options import Options, build_config, check_value, declaration, option, type_text
from graft.run_options import RunOptions
from graft.strategies import STRATEGIES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "options.md"
CONFIGS = [TrainConfig, RunOptions, AdapterOptions, *(STRATEGIES.get(n).Config for n in STRATEGIES)]


@dataclasses.dataclass
class _Probe(Options):
    C: float | None = option(None, help="Inverse regularisation strength.", gt=0, example=1.0,
                             unset="pick C on validation")
    head: str = option("torch", help="The head.", choices=("torch", "logreg"))
    zoom: tuple[float, ...] = option((0.9, 1.1), help="Zoom range.", gt=0)
    steps: int = option(3, help="Steps.", ge=1)
    on: bool = option(True, help="A switch.")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_is_declared_with_one_line_of_help(config: type) -> None:
    hints = typing.get_type_hints(config)
    for field in dataclasses.fields(config):
        declared = declaration(config, field.name)
        assert declared.help and "\n" not in declared.help, field.name
        assert type_text(hints[field.name])
    config().validate()  # every default is allowed


def test_a_subclass_that_changes_a_default_keeps_the_declaration() -> None:
    from graft.strategies.coral import CoralConfig
    from graft.strategies.ia3 import IA3Config

    assert CoralConfig().trade_off == 0.1 and declaration(CoralConfig, "trade_off").ge == 0
    assert IA3Config().adapter == "ia3" and "ia3" in declaration(IA3Config, "adapter").names()


def test_strings_are_converted_to_the_annotated_types() -> None:
    cfg = build_config(_Probe, {"C": "0.5", "head": "logreg", "zoom": "0.8, 1.2", "steps": "2", "on": "no"}, "x")
    assert (cfg.C, cfg.head, cfg.zoom, cfg.steps, cfg.on) == (0.5, "logreg", (0.8, 1.2), 2, False)
    assert build_config(_Probe, {"C": "none"}, "x").C is None
    assert build_config(_Probe, {"zoom": [1, 2]}, "x").zoom == (1, 2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"C": "-1"}, ("The '--C' option of strategy 'probe' must be > 0. Got -1.0 instead. "
                       "Fix: pass e.g. --C 1, or leave it out to pick C on validation.")),
        ({"C": "nan"}, "must be > 0. Got nan instead."),
        ({"C": "abc"}, "The '--C' option of strategy 'probe' must be of type float or none. Got 'abc' instead."),
        ({"head": "lgoreg"}, "must be one of torch, logreg. Got 'lgoreg' instead. Did you mean 'logreg'?"),
        ({"head": "knn"}, "must be one of torch, logreg. Got 'knn' instead. Fix: pass e.g. --head torch."),
        ({"zoom": "1,-1"}, "The '--zoom' option of strategy 'probe' must be > 0. Got 1,-1 instead."),
        ({"steps": 0}, "must be >= 1. Got 0 instead. Fix: pass e.g. --steps 3."),
        ({"steps": 2.5}, "must be of type int. Got 2.5 instead."),
        ({"steps": True}, "must be of type int. Got True instead."),
        ({"on": "maybe"}, "must be of type bool. Got 'maybe' instead. Fix: pass --on or --no-on."),
        ({"stpes": 1}, "Unknown option 'stpes' for strategy 'probe'. Did you mean 'steps'? Allowed: --C, --head"),
    ],
)
def test_bad_values_are_refused_in_one_line(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_config(_Probe, options, "strategy 'probe'")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_config_built_in_python_is_checked_by_its_strategy() -> None:
    from graft.strategies.finetune import Finetune, FinetuneConfig

    with pytest.raises(ConfigError, match=r"The '--layer-decay' option of strategy 'finetune' must be in \(0, 1\]"):
        Finetune(FinetuneConfig(layer_decay=1.5))
    with pytest.raises(ConfigError, match="'--start-margin-se' option of the engine must be >= 0"):
        TrainConfig(start_margin_se=-1).validate()


def test_check_value_checks_one_field() -> None:
    from graft.strategies.finetune import FinetuneConfig, parse_trainable

    check_value(FinetuneConfig, "trainable", "last-3", "strategy 'finetune'")
    with pytest.raises(ConfigError, match="'all' or 'last-N'.*Got 'top-2'.*Fix: pass e.g. --trainable last-2"):
        parse_trainable("top-2")
    assert parse_trainable("all") is None and parse_trainable("last-3") == 3


def test_cross_field_rules_run_after_the_declared_ones() -> None:
    with pytest.raises(ConfigError, match="'--source-zoom'.*low <= high. Got 1.4,0.9"):
        build_config(STRATEGIES.get("dann").Config, {"source_zoom": "1.4,0.9"}, "strategy 'dann'")


def test_did_you_mean_ranks_by_edit_distance() -> None:
    candidates = ["steps-per-epoch", "labels-per-class", "val-fraction", "label-column"]
    assert did_you_mean("lables-per-class", candidates) == " Did you mean 'labels-per-class'?"
    assert did_you_mean("sdn", ["snd", "entropy", "im", "dev"]) == " Did you mean 'snd'?"  # a swap is one edit
    assert did_you_mean("lite", ["none", "light", "flip"]) == " Did you mean 'light'?"
    assert did_you_mean("knn", ["torch", "logreg", "svm", "mlp"]) == ""
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("ab", "ba") == 1 and edit_distance("", "ab") == 2


def test_split_options_suggests_named_options_too() -> None:
    finetune = STRATEGIES.get("finetune")
    run, strategy, train = split_options(finetune, {"image-size": "64", "layer_decay": "0.7", "lr": "1e-3"})
    assert run == {"image_size": "64"} and strategy == {"layer_decay": "0.7"} and train == {"lr": "1e-3"}
    with pytest.raises(ConfigError, match="Unknown option 'lables-per-class'.*Did you mean 'labels-per-class'"):
        split_options(finetune, {"lables_per_class": 5}, named=["labels_per_class", "seed"])
    with pytest.raises(ConfigError) as err:
        split_options(finetune, {"lables_per_class": 5})
    assert "steps-per-epoch" not in str(err.value).split("Allowed")[0]


def test_check_unused_refuses_what_a_strategy_ignores() -> None:
    probe = STRATEGIES.get("linear-probe")
    check_unused(probe, {"progress": "false", "num_workers": 2})
    with pytest.raises(ConfigError) as err:
        check_unused(probe, {"warmup-epochs": "1", "lr": "0.1"})
    msg = str(err.value)
    assert "--lr, --warmup-epochs do not apply to strategy 'linear-probe'" in msg
    assert "--head, --C, --max-iter, --mlp-hidden" in msg and "Fix: drop --lr, --warmup-epochs." in msg
    check_unused(STRATEGIES.get("finetune"), {"lr": "0.1", "epochs": "3"})


def test_check_unused_refuses_a_warmup_as_long_as_the_run() -> None:
    finetune = STRATEGIES.get("finetune")
    with pytest.raises(ConfigError, match=r"'--warmup-epochs'.*shorter than --epochs \(3\).*Got 3 instead"):
        check_unused(finetune, {"warmup_epochs": "3", "epochs": "3"})
    with pytest.raises(ConfigError, match=r"shorter than --epochs \(30\)"):  # finetune's own epochs
        check_unused(finetune, {"warmup_epochs": 40})
    check_unused(finetune, {"warmup_epochs": "1", "epochs": "3"})
    check_unused(finetune, {"epochs": "1"})  # the strategy's default warm-up is not the user's contradiction


def test_rows_show_the_strategys_engine_defaults() -> None:
    groups = option_groups(STRATEGIES.get("dann"))
    assert [g.title for g in groups] == ["Options of dann", "Engine options", "Data and model options"]
    engine = {r.name: r for r in option_rows(groups[1].config, groups[1].defaults)}
    assert engine["--optimizer"].default == "sgd" and engine["--optimizer"].allowed == "one of adamw, sgd"
    probe = {r.name: r for r in option_rows(STRATEGIES.get("linear-probe").Config)}
    assert probe["--C"].default_text == "none (pick C on validation)" and probe["--C"].type == "float or none"


def test_model_options_carry_the_mlp_shape() -> None:
    opts = build_config(RunOptions, {"mlp_width": "64", "mlp_depth": "3", "mlp_dropout": "0"}, "graft fit")
    model = opts.model_options()
    assert model.hidden == (64, 64, 64) and model.dropout == 0.0
    assert RunOptions().model_options().hidden == (256, 256)


def test_docs_options_md_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == options_markdown(), (
        "docs/options.md is out of date: run `python -m graft.cli.docs > docs/options.md`"
    )
    for heading in ("## Engine options", "## Data and model options", "## Strategy `linear-probe`"):
        assert heading in DOCS.read_text(encoding="utf-8")


def test_without_ignored_drops_what_a_shared_option_set_cannot_mean() -> None:
    from graft.option_groups import without_ignored

    shared = {"epochs": "5", "warmup-epochs": "1", "image_size": 64, "progress": False}
    assert without_ignored(STRATEGIES.get("linear-probe"), shared) == {"image_size": 64, "progress": False}
    assert without_ignored(STRATEGIES.get("finetune"), shared) == shared
