"""Is the Hugging Face Hub (or another weights host) reachable? Answered in seconds.

Left to itself, huggingface_hub retries an unreachable host with back-off and gives up
after about a minute, printing a warning per retry. graft looks in the local cache
first, and only when the files are not there opens one TCP connection to the host
(through the proxy when one is configured) with a short timeout: no answer means
offline, and the caller fails at once with what to do instead.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit

#: Seconds to wait for the host to accept a connection; a reachable hub answers in well under one.
PROBE_TIMEOUT_S = 3.0


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
