"""Hub weights: from the local cache without asking, or a reachability answer in seconds.

Left to itself, huggingface_hub retries an unreachable host with back-off and gives up
after about a minute, printing a warning per retry. graft looks in the local cache
first, and only when the files are not there opens one TCP connection to the host
(through the proxy when one is configured) with a short timeout: no answer means
offline, and the caller fails at once with what to do instead.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit

from graft.errors import ConfigError
from graft.warnings_filter import quiet_third_party

#: Seconds to wait for the host to accept a connection; a reachable hub answers in well under one.
PROBE_TIMEOUT_S = 3.0

#: Files that hold a checkpoint's weights, in the order transformers prefers them.
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
#: A Hub repository id: ``name`` or ``org/name`` (a path with more parts is a folder).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def hub_endpoint() -> str:
    """The Hub's base URL (``HF_ENDPOINT`` when set, as huggingface_hub reads it)."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def offline_by_setting() -> bool:
    """True when the user switched the Hub off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or _truthy(os.environ.get("HF_HUB_OFFLINE"))


def unreachable_reason(url: str | None = None, timeout: float | None = None) -> str | None:
    """Why ``url``'s host cannot be reached now, or None when it accepts a connection.

    Args:
        url: Any URL on the host; the Hub's endpoint by default.
        timeout: Seconds to wait for the connection; :data:`PROBE_TIMEOUT_S` by default.

    Returns:
        A short phrase for an error message (``"HF_HUB_OFFLINE is set"``,
        ``"huggingface.co:443 is unreachable: Name or service not known"``), or None.
    """
    url = url or hub_endpoint()
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
    if offline_by_setting() and urlsplit(url).hostname == urlsplit(hub_endpoint()).hostname:
        return "HF_HUB_OFFLINE is set"
    host, port = _first_hop(url)
    try:
        _probe(host, port, timeout)
    except OSError as exc:
        why = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        return f"{host}:{port} is unreachable: {why}"
    return None


def cached_hub_file(repo_id: str, filenames: Iterable[str], revision: str | None = None) -> str | None:
    """The local path of the first of ``filenames`` in the Hugging Face cache, or None. No network."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, revision=revision)
        if isinstance(found, str):  # a path; other values mean "not cached" or "known missing"
            return found
    return None


def local_model_folder(name: str, pretrained: bool) -> str:
    """The folder transformers loads ``hf:name`` from: itself, its cached snapshot, or a download now.

    A hub id is loaded from its snapshot folder rather than by id: given an id,
    transformers asks the Hub about an adapter config even with ``local_files_only``,
    which offline means half a minute of retries.

    Args:
        name: A local folder, or a Hub id (``org/name``).
        pretrained: The weights are needed too, not only the config.

    Returns:
        ``name`` itself for a folder, else the snapshot folder in the Hugging Face cache.

    Raises:
        ConfigError: A path that is no folder; a hub id that is not cached while the Hub
            is unreachable, or that the Hub does not know.
    """
    if os.path.isdir(os.path.expanduser(name)):
        return name
    if not _HUB_ID.fullmatch(name):
        raise ConfigError(
            f"'hf:{name}' is not a folder on this machine, and not a Hugging Face Hub id. Allowed: a local "
            "folder saved with save_pretrained (hf:/path/to/model), or a Hub id (hf:org/name). "
            "Fix: check the path."
        )
    snapshot = _cached_snapshot(name, pretrained)
    if snapshot is not None:
        return snapshot
    reason = unreachable_reason()
    if reason is not None:
        raise ConfigError(
            f"hf:{name} could not be fetched: offline ({reason}) and not in the local Hugging Face cache. "
            "Fix: pass a local folder saved with save_pretrained (hf:/path/to/model), run once with "
            "network access to cache it, or use a built-in model (graft list), e.g. builtin:minilm."
        )
    _download(name)
    snapshot = _cached_snapshot(name, pretrained)
    if snapshot is None:
        raise ConfigError(
            f"hf:{name} on the Hugging Face Hub has no config.json{' or weights' if pretrained else ''} at its top "
            "level, so it is not a transformers model. Fix: pass the id of a transformers encoder, "
            "or a local folder saved with save_pretrained (hf:/path/to/model)."
        )
    return snapshot


def _cached_snapshot(name: str, pretrained: bool) -> str | None:
    """The cache folder holding hub model ``name``'s config (and weights when wanted), or None."""
    config = cached_hub_file(name, ["config.json"])
    if config is None or (pretrained and cached_hub_file(name, _WEIGHT_FILES) is None):
        return None
    return os.path.dirname(config)


def _download(name: str) -> None:
    """Fetch the config, tokenizer and weights of hub model ``name`` into the local cache.

    Only the root files transformers reads are fetched, safetensors weights when the
    repository has them (not also the .bin, TensorFlow, Flax or ONNX copies).
    """
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        files = [f for f in HfApi().list_repo_files(name) if "/" not in f]
        weights = [f for f in files if f.endswith(".safetensors")] or \
            [f for f in files if f.startswith("pytorch_model") and f.endswith(".bin")]
        wanted = [f for f in files if f.endswith((".json", ".txt", ".model"))] + weights
        with quiet_third_party():
            snapshot_download(name, allow_patterns=wanted)
    except RepositoryNotFoundError as exc:
        raise ConfigError(
            f"hf:{name} is not a model on the Hugging Face Hub, or it is private or gated. "
            "Fix: check the id (hf:org/name), log in with `hf auth login` for a gated model, "
            "or pass a local folder (hf:/path/to/model)."
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ConfigError(f"hf:{name} could not be downloaded ({first_line(exc)}). Fix: retry, or pass a "
                          "local folder saved with save_pretrained (hf:/path/to/model).") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _first_hop(url: str) -> tuple[str, int]:
    """The host and port a request to ``url`` connects to first: the proxy when one applies."""
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (80 if parts.scheme == "http" else 443)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        hop = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if hop.hostname:
            return hop.hostname, hop.port or (443 if hop.scheme == "https" else 80)
    return host, port


def _probe(host: str, port: int, timeout: float) -> None:
    """:func:`_connect` within ``timeout`` seconds in all, name lookup included.

    The socket timeout does not cover the DNS lookup, which can hang for many seconds
    without a reachable name server; the attempt runs in a daemon thread instead.
    """
    outcome: list[OSError | None] = []

    def attempt() -> None:
        try:
            _connect(host, port, timeout)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, name="graft-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"no answer within {timeout} s")
    if outcome[0] is not None:
        raise outcome[0]


def _connect(host: str, port: int, timeout: float) -> None:
    """Open and close one TCP connection (tests replace this to stay off the network)."""
    socket.create_connection((host, port), timeout=timeout).close()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}
