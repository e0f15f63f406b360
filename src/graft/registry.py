"""A name → object registry that validates names and suggests close matches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from graft.errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects chosen by name (strategies, built-in models, built-in data sets).

    Args:
        kind: What the entries are, used in error messages ("strategy").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorator that registers an object under ``name``."""

        def add(obj: T) -> T:
            if name in self._items:
                raise RuntimeError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            self._help[name] = help or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
            return obj

        return add

    def get(self, name: str) -> T:
        """Return the entry, or raise a SpecError that lists the allowed names."""
        if not isinstance(name, str) or name not in self._items:  # a number from a config file, a typo
            raise unknown_name(self.kind, str(name), self._items)
        return self._items[name]

    def describe(self) -> dict[str, str]:
        """Names with their one-line descriptions, sorted by name."""
        return {k: self._help[k] for k in sorted(self._items)}

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
