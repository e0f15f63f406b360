"""Opening a study: its storage, its identity, its sampler and pruner.

A study lives in memory, or in any database Optuna supports (``sqlite:///study.db``,
``postgresql://user:pass@host/db``, ``mysql+pymysql://...``). Stored, it survives a crash and
several ``graft tune`` processes, on one machine or many, share it: they pass the same
``--storage`` URL and ``--study`` name. What the study is about (strategy, model, data, objective)
is stored with it, so a study is never continued with another strategy by mistake.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from graft.errors import ConfigError

if TYPE_CHECKING:
    import optuna

#: The study's user attribute that holds what graft stored with it.
IDENTITY_KEY = "graft"
#: Parts of the identity that must match for a study to be continued.
IDENTITY_FIELDS = ("strategy", "model", "data", "source", "labels_per_class", "objective")
#: A trial whose process died (kill -9, a lost machine) is failed after this many seconds without
#: a heartbeat, and its parameters are tried again by the next process.
HEARTBEAT_SECONDS = 30
#: Tries at opening a storage that several workers may be creating at once.
OPEN_ATTEMPTS = 6
STORAGE_EXAMPLES = "sqlite:///study.db, postgresql://user:password@host/db, mysql+pymysql://user@host/db"


def default_study_name(strategy: str, model: str, data: str, labels_per_class: int | None) -> str:
    """``tune-finetune-lenet-digits-k10``: the same command names the same study, so it continues."""
    def short(spec: str) -> str:
        name = spec.rstrip("/").split("/")[-1].split(":")[-1]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "x"

    k = f"-k{labels_per_class}" if labels_per_class is not None else ""
    return f"tune-{strategy}-{short(model)}-{short(data)}{k}"


def open_storage(url: str | None) -> Any:
    """An Optuna storage for ``url`` (None: in memory).

    Raises:
        ConfigError: A URL Optuna cannot open (malformed, an unreachable server, a missing driver,
            a folder that does not exist).
    """
    if url is None:
        return None
    import optuna

    if "://" not in url:
        raise ConfigError(
            f"--storage must be a database URL Optuna can open. Got {url!r} instead. Allowed: {STORAGE_EXAMPLES}. "
            f"Fix: pass e.g. --storage sqlite:///{url if url.endswith('.db') else 'study.db'}."
        )
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # Optuna marks the heartbeat experimental; graft relies on it knowingly
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=2 * HEARTBEAT_SECONDS,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except Exception as err:  # SQLAlchemy, a driver or the OS: all mean "cannot open"
            # Workers started together race to create a new database's tables (SQLite: "database is
            # locked", "table ... already exists"); the loser finds them made a moment later.
            if attempt + 1 < OPEN_ATTEMPTS and _concurrent(err):
                time.sleep(0.5 * (attempt + 1))
                continue
            raise _cannot_open(url, err) from None
    raise AssertionError("unreachable")


def _concurrent(err: Exception) -> bool:
    text = str(err).lower()
    return any(s in text for s in ("locked", "already exists", "unique constraint", "integrity"))


def _cannot_open(url: str, err: Exception) -> ConfigError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ConfigError(
        f"Optuna cannot open the storage --storage {url!r}: {reason[:200]}. Allowed: a database URL Optuna "
        f"supports ({STORAGE_EXAMPLES}). Fix: check the URL, that its folder or server exists and that its "
        f"driver is installed."
    )


def open_study(
    name: str,
    storage: Any,
    identity: Mapping[str, Any],
    *,
    sampler: optuna.samplers.BaseSampler | None,
    pruner: optuna.pruners.BasePruner | None,
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when ``storage`` already holds one of that name.

    Returns:
        The study, and whether this call created it. Of several workers started together exactly
        one creates it (the storage's unique study name decides), so only that one seeds it.

    Args:
        name: The study's name.
        storage: From :func:`open_storage`.
        identity: What the study optimises (:data:`IDENTITY_FIELDS`, ``direction``, ``space``).
        sampler: The study's sampler (None: Optuna's default).
        pruner: The study's pruner (None: no pruning).

    Raises:
        ConfigError: The stored study was created for another strategy, model, data set or objective.
    """
    import optuna

    pruner = pruner if pruner is not None else optuna.pruners.NopPruner()
    direction: Literal["minimize", "maximize"] = "minimize" if identity["direction"] == "minimize" else "maximize"
    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=direction)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        created = False
    stored = study.user_attrs.get(IDENTITY_KEY)
    if stored is None:
        if study.direction.name.lower() != direction:
            raise _other_study(name, "objective direction", study.direction.name.lower(), identity["direction"])
        study.set_user_attr(IDENTITY_KEY, dict(identity))
        return study, created
    for key in IDENTITY_FIELDS:
        if stored.get(key) != identity.get(key):
            raise _other_study(name, key, stored.get(key), identity.get(key))
    return study, created


def _other_study(name: str, what: str, stored: Any, given: Any) -> ConfigError:
    flag = {"labels_per_class": "--labels-per-class", "objective": "objective (--select-by / --monitor)"}.get(
        what, f"--{what}")
    return ConfigError(
        f"The study '{name}' in this storage was created for {what} {stored!r}; this command has {given!r}. "
        f"A study continues only with the command that created it. Fix: pass another --study name to start a new "
        f"study, or the same {flag} as its trials."
    )
