"""The models of a ranking: specs with per-model options, read from the command line or a file.

A candidate is a model spec, optionally followed by model options that set it apart from
the others, written like a URL query: ``builtin:minilm?pooling=cls``,
``builtin:efficientnet-lite0?pretrained=false``, ``timm:resnet18?image_size=64``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from graft.errors import ConfigError, MissingPathError, did_you_mean

#: Options that may differ between the models of one ranking; the data options (split,
#: columns) must be the same for every model, or the scores would not be comparable.
MODEL_OPTIONS = ("pretrained", "image_size", "max_length", "pooling", "arch", "mlp_width", "mlp_depth", "mlp_dropout")
_QUERY = re.compile(r"^[A-Za-z_][\w-]*=[^&]*(&[A-Za-z_][\w-]*=[^&]*)*$")


@dataclass(frozen=True)
class Candidate:
    """One model to rank.

    Attributes:
        spec: The model spec (``builtin:minilm``) or an ``nn.Module``.
        label: How tables name it: the text as given (``builtin:minilm?pooling=cls``).
        options: Its own model options (``{"pooling": "cls"}``), over the ranking's.
    """

    spec: str | nn.Module
    label: str
    options: dict[str, str] = field(default_factory=dict)


def parse_candidate(item: str | nn.Module | Candidate) -> Candidate:
    """``"builtin:minilm?pooling=cls"`` → ``Candidate("builtin:minilm", ..., {"pooling": "cls"})``.

    Raises:
        ConfigError: An option that is not a model option.
    """
    if isinstance(item, Candidate):
        return item
    if isinstance(item, nn.Module):
        return Candidate(item, type(item).__name__)
    text = str(item).strip()
    spec, sep, query = text.rpartition("?")
    if not sep or not _QUERY.match(query):  # a '?' that is part of a path, or none
        return Candidate(text, text)
    options: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        name = key.replace("-", "_")
        if name not in MODEL_OPTIONS:
            hint = did_you_mean(name, MODEL_OPTIONS)
            raise ConfigError(
                f"The model '{text}' sets '{key}', which is not a model option.{hint} Allowed after '?': "
                f"{', '.join(MODEL_OPTIONS)}. Fix: pass data options (--split-seed, --label-column ...) once for "
                "the whole ranking."
            )
        options[name] = value
    return Candidate(spec, text, options)


def read_models_file(path: str | Path) -> list[str]:
    """Model specs of a zoo file: one per line; blank lines and ``#`` comments are skipped.

    Raises:
        MissingPathError: No such file.
        ConfigError: The file names no model.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError(f"--models-file '{path}' is a folder, not a file. Fix: pass a text file with one model "
                          "spec per line.")
    if not file.is_file():
        raise MissingPathError(f"--models-file '{path}' does not exist. Fix: pass a text file with one model spec "
                               "per line.")
    try:
        text_lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"--models-file '{path}' is not a UTF-8 text file. Allowed: one model spec per line. "
                          "Fix: pass a text file of model specs, e.g. a line builtin:efficientnet-lite0.") from None
    specs = []
    for line in text_lines:
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith("#"):
            specs.append(text)
    if not specs:
        raise ConfigError(f"--models-file '{path}' names no model (it is empty or only comments). Allowed: one model "
                          "spec per line, e.g. builtin:efficientnet-lite0. Fix: add model specs to the file.")
    return specs


def collect_candidates(models: Any, models_file: str | Path | None = None) -> list[Candidate]:
    """The candidates of ``models`` (a spec, module or list of them) and of ``models_file``,
    in that order, without repeats.

    Raises:
        ConfigError: No model at all.
    """
    given: Sequence[Any]
    if models is None:
        given = []
    elif isinstance(models, (str, nn.Module, Candidate)):
        given = [models]
    else:
        given = list(models)
    items = [*given, *(read_models_file(models_file) if models_file is not None else [])]
    out: list[Candidate] = []
    for item in items:
        candidate = parse_candidate(item)
        if isinstance(candidate.spec, nn.Module):  # two modules of one class need two names
            same = sum(isinstance(c.spec, nn.Module) and c.label.split(" #")[0] == candidate.label for c in out)
            if same:
                candidate = Candidate(candidate.spec, f"{candidate.label} #{same + 1}", candidate.options)
            out.append(candidate)
        elif all(candidate.label != c.label for c in out):  # a spec given twice is ranked once
            out.append(candidate)
    if not out:
        raise ConfigError("graft rank needs at least one model. Got none. Fix: pass --model SPEC (repeat it for "
                          "several), or --models-file zoo.txt with one spec per line.")
    return out
