"""Library chatter is hidden by name during training; graft's own warnings still show."""

from __future__ import annotations

import logging
import os
import stat
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from graft.data import DataSource, make_dataset, make_splits
from graft.engine.config import TrainConfig
from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Trainer
from graft.models import GraftModel
from graft.notes import GraftNote
from graft.strategies.base import supervised_step
from graft.warnings_filter import KNOWN_WARNINGS, quiet_third_party

CFG = TrainConfig(epochs=2, batch_size=16, lr=1e-2, progress=False, checkpoint_every=0)


@contextmanager
def shown() -> Iterator[list[warnings.WarningMessage]]:
    """Every warning that would reach the user (pytest's config ignores UserWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught]


def _warn_from(module: str, message: str, category: type[Warning]) -> None:
    """Issue a warning attributed to ``module``, as Python does for a warning raised there."""
    warnings.warn_explicit(message, category, filename=f"{module}.py", lineno=1, module=module)


def test_each_known_warning_is_hidden_only_from_its_module() -> None:
    examples = {
        KNOWN_WARNINGS[0]: ("graft.data.pipeline", "The given NumPy array is not writable, and PyTorch ..."),
        KNOWN_WARNINGS[1]: ("lightning_fabric.loggers.csv_logs", "Experiment logs directory /r/logs exists and is not empty."),
        KNOWN_WARNINGS[2]: ("lightning_fabric.plugins.environments.slurm",
                            "The `srun` command is available on your system but is not used. HINT: ..."),
    }
    assert set(examples) == set(KNOWN_WARNINGS)  # a new entry gets an example here
    with shown() as caught, quiet_third_party():
        for known, (module, message) in examples.items():
            _warn_from(module, message, known.category)
            _warn_from("someones_package", message, known.category)  # same words elsewhere: shown
        _warn_from("graft.streams", "The validation split is small (15 examples)", GraftNote)
    assert [w.filename for w in caught] == ["someones_package.py"] * 3 + ["graft.streams.py"]


def test_filters_are_gone_after_the_block() -> None:
    before = list(warnings.filters)
    with quiet_third_party():
        pass
    assert warnings.filters == before
    with shown() as caught:
        _warn_from("lightning_fabric.loggers.csv_logs", "Experiment logs directory x exists and is not empty.",
                   UserWarning)
    assert len(caught) == 1


def test_torchs_read_only_array_warning_from_graft_code_is_hidden() -> None:
    # torch warns about a read-only array once per process, so each case runs in a fresh one.
    import subprocess
    import sys

    script = """
import warnings, numpy as np, torch
from graft.warnings_filter import quiet_third_party
image = np.zeros((2, 4, 4, 3), dtype=np.uint8)
image.setflags(write=False)  # as np.asarray(PIL image) returns
code = compile("torch.from_numpy(image)", "pipeline.py", "eval")
scope = {"__name__": "graft.data.pipeline", "torch": torch, "image": image}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if QUIET:
        with quiet_third_party():
            eval(code, scope)
    else:
        eval(code, scope)
print(sum("not writable" in str(w.message) for w in caught))
"""
    counts = [subprocess.run([sys.executable, "-c", f"QUIET = {quiet}\n" + script], capture_output=True,
                             text=True, check=True).stdout.strip() for quiet in (False, True)]
    assert counts == ["1", "0"]  # the real torch warning, attributed to a graft module; then hidden


def _tiny_fit(source: DataSource, make_mlp: Callable[..., GraftModel], config: TrainConfig, run_dir: Path,
              resume: bool = False) -> None:
    splits = make_splits(source, test_fraction=0.2, val_fraction=0.25)
    model = make_mlp(source)
    train = make_dataset(source, splits.train, model.spec.input)
    trainer = Trainer(config, run_dir=run_dir)
    trainer.fit(model, model_param_groups(model, weight_decay=0.0), supervised_step, train,
                make_dataset(source, splits.val, model.spec.input), resume=resume)


def test_resume_hides_the_log_folder_warning_but_not_graft_s_schedule_warning(
        blobs_source: DataSource, make_mlp: Callable, tmp_path: Path) -> None:
    _tiny_fit(blobs_source, make_mlp, CFG, tmp_path)
    with shown() as caught:
        _tiny_fit(blobs_source, make_mlp, replace(CFG, epochs=3), tmp_path, resume=True)
    messages = _messages(caught)
    assert not any("Experiment logs directory" in m for m in messages), messages
    assert any(m.startswith("Resuming with a different schedule") for m in messages), messages
    # the hidden warning is real: Lightning's logger says it when not filtered
    from lightning_fabric.loggers import CSVLogger

    with shown() as caught:
        CSVLogger(root_dir=str(tmp_path / "logs"), name="csv", version=0).experiment  # noqa: B018
    assert any("Experiment logs directory" in m for m in _messages(caught))


def test_srun_on_the_path_is_not_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    srun = tmp_path / "srun"
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    from lightning_fabric import Fabric

    with shown() as caught:
        Fabric(accelerator="cpu", devices=1)
    if not any("srun" in m for m in _messages(caught)):
        pytest.skip("this Lightning version does not warn about srun")
    with shown() as caught:
        Trainer(CFG)
    assert not any("srun" in m for m in _messages(caught))


def test_log_records_are_filtered_only_inside_the_block(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("transformers.modeling_utils")
    with caplog.at_level(logging.WARNING, logger="transformers.modeling_utils"):
        with quiet_third_party():
            logger.warning("BertModel LOAD REPORT from: /x")
            logger.warning("something else")
        logger.warning("BertModel LOAD REPORT from: /y")
    assert [r.getMessage() for r in caplog.records] == ["something else", "BertModel LOAD REPORT from: /y"]
