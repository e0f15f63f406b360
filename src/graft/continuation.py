"""Continuing work that writes many runs into one folder (``compare``, ``fit --folds``, ``rank --verify``).

With ``--resume`` a finished run is reused only when it was made with the options given now (its
config.yaml is compared with them, the engine options its strategy ignores left out), an interrupted
one continues from its last checkpoint, and the rest are trained. A comparison records what it was
asked (``comparison.yaml``: data, source and options), so resuming it with other data or options is
refused even for options left out now. Without ``--resume`` or ``--overwrite`` an earlier comparison
is refused, never replaced silently; ``--overwrite`` replaces its runs one by one and, once the new
comparison has finished, removes the runs it no longer has.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from graft.errors import ConfigError

#: What marks a folder as a comparison: its identity (written first) and its table (written last).
COMPARISON_MARKERS = ("comparison.yaml", "results.csv")
#: Options that do not change what a run learns: a finished run is reused whatever they were.
NO_EFFECT = frozenset({"progress", "num_workers", "checkpoint_every"})


def refuse_resume_with_overwrite(resume: bool, overwrite: bool, what: str) -> None:
    """``--resume`` continues the ``what`` in --out and ``--overwrite`` replaces it: never both."""
    if resume and overwrite:
        raise ConfigError(f"--resume continues the {what} in --out and --overwrite replaces it; got both. Allowed: "
                          "one of them. Fix: drop --overwrite to continue, or --resume to start afresh.")


def check_resume_flags(resume: bool, overwrite: bool, out: Any, what: str) -> None:
    """Refuse ``--resume`` with ``--overwrite``, and either without the ``--out`` it would act on."""
    refuse_resume_with_overwrite(resume, overwrite, what)
    if (resume or overwrite) and out is None:
        flag = "--resume" if resume else "--overwrite"
        raise ConfigError(f"{flag} acts on the {what} in --out, but no --out was given. Allowed: {flag} with "
                          f"--out DIR. Fix: pass the --out of the {what}, or drop {flag}.")


def check_earlier(path: Path, markers: Iterable[str], *, what: str, resume: bool, overwrite: bool) -> bool:
    """True when ``path`` holds an earlier ``what`` (one of ``markers``); refused then unless resumed or
    replaced."""
    found = [name for name in markers if (path / name).exists()]
    if found and not resume and not overwrite:
        raise ConfigError(f"--out '{path}' holds an earlier {what} ({', '.join(found)}); its runs would be replaced. "
                          "Allowed: a new folder, --resume or --overwrite. Fix: pass --resume to reuse its finished "
                          "runs and continue the rest, --overwrite to replace it, or another --out.")
    return bool(found)


def check_comparison(path: Path, identity: Mapping[str, Any], *, resume: bool) -> None:
    """Refuse to resume the comparison in ``path`` with other data, source or options than it recorded."""
    recorded_path = path / "comparison.yaml"
    if not resume or not recorded_path.exists():
        return
    recorded = yaml.safe_load(recorded_path.read_text(encoding="utf-8")) or {}
    differ = differences(recorded.get("options") or {}, identity.get("options") or {}, both_ways=True)
    for key in ("data", "source"):
        if str(recorded.get(key)) != str(identity.get(key)):
            differ.append(f"--{key} {recorded.get(key)} (now {identity.get(key)})")
    if differ:
        raise ConfigError(f"--resume: the comparison in '{path}' was made with other data or options: "
                          f"{'; '.join(differ)}. Allowed: the same data and options (more seeds, K, models or "
                          "strategies are fine). Fix: pass them as before, --overwrite to redo it, or another --out.")


def write_comparison(path: Path, identity: Mapping[str, Any]) -> None:
    from graft.io import write_text
    from graft.run_dir import yaml_safe

    path.mkdir(parents=True, exist_ok=True)
    write_text(path / "comparison.yaml", yaml.safe_dump(yaml_safe(dict(identity)), sort_keys=False))


def remove_leftovers(folder: Path, keep: Iterable[str]) -> None:
    """Delete the graft runs directly inside ``folder`` (folders with a config.yaml, or cross-validation
    folders) whose names are not in ``keep``: an overwritten comparison's runs it no longer has."""
    keep = set(keep)
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        is_run = (child / "config.yaml").exists() or any(child.glob("fold-*/config.yaml"))
        if child.is_dir() and child.name not in keep and is_run:
            shutil.rmtree(child)


def _norm(value: Any) -> Any:
    """A value as the CLI or Python gives it and as config.yaml records it, made comparable."""
    if isinstance(value, (list, tuple)):
        items = tuple(_norm(v) for v in value)
        return items[0] if len(items) == 1 else items
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null", ""):
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if "," in text:
        return _norm([part.strip() for part in text.split(",")])
    return text


def differences(recorded: Mapping[str, Any], given: Mapping[str, Any], *, both_ways: bool = False,
                ignore: Iterable[str] = ()) -> list[str]:
    """``--name recorded (now given)`` for every option whose values differ (``both_ways``: an option
    given on one side only differs too, as its default may not be the other's value)."""
    rec = {k.replace("-", "_"): v for k, v in recorded.items()}
    now = {k.replace("-", "_"): v for k, v in given.items()}
    skip = NO_EFFECT | set(ignore)
    keys = (set(rec) | set(now)) if both_ways else (set(now) & set(rec))
    out = []
    for key in sorted(keys - skip):
        if key not in rec or key not in now or _norm(rec[key]) != _norm(now[key]):
            before = rec.get(key, "unset")
            after = now.get(key, "unset")
            out.append(f"--{key.replace('_', '-')} {before} (now {after})")
    return out


def _flat_config(config: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in config.items() if not isinstance(v, dict)}
    for section in ("strategy_options", "train"):
        flat.update(config.get(section) or {})
    return flat


def _check_run(out: Path, expected: Mapping[str, Any]) -> None:
    """Refuse to reuse or continue the run in ``out`` when it was made with other options."""
    if not (out / "config.yaml").exists():
        return
    config = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8")) or {}
    ignored: frozenset[str] = frozenset()
    from graft.strategies import STRATEGIES

    if str(config.get("strategy")) in STRATEGIES:  # auto's pick drops the options its strategy ignores
        ignored = STRATEGIES.get(str(config["strategy"])).ignores_engine_options
    differ = differences(_flat_config(config), expected, ignore=ignored)
    if differ:
        raise ConfigError(f"--resume: the run '{out}' was made with other options: {'; '.join(differ)}. Allowed: the "
                          "options it was made with. Fix: pass them, --overwrite to redo it, or another --out.")


#: ``fit`` arguments that config.yaml does not record as given (data specs become names, flags are not options).
_NOT_RECORDED = frozenset({"source", "teacher", "unlabeled", "overwrite", "resume", "out"})


def continue_run(fit: Any, out: Path, *args: Any, resume: bool, **kwargs: Any) -> Any:
    """``fit(*args, out=out, **kwargs)``; with ``resume``, a finished run in ``out`` is reused and an interrupted one
    continued, after checking either was made with the options in ``kwargs`` (and the model spec in ``args``)."""
    from torch import nn

    if resume:
        expected = {k: v for k, v in kwargs.items()
                    if k not in _NOT_RECORDED and not (k == "strategy" and v == "auto")}  # auto records its pick
        if args and isinstance(args[0], str):
            expected["model"] = args[0]
        _check_run(out, expected)
    if resume and (out / "metrics.json").exists():
        from graft.run import load_run

        module = args[0] if args and isinstance(args[0], nn.Module) else None
        return load_run(out, model=module)
    from graft.engine.checkpoint import resumable

    if resume and (resumable(out) or any(out.glob("fold-*/config.yaml"))):
        return fit(*args, out=out, resume=True, **kwargs)  # cross-validation resumes fold by fold
    return fit(*args, out=out, overwrite=True, **kwargs)
