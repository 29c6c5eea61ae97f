"""A small thread-safe LRU map with a size bound, for the history caches (server threads share them)."""

from __future__ import annotations

import collections
import threading
from typing import Callable, Hashable


class Lru:
    """A small thread-safe LRU map with a size bound."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: collections.OrderedDict[Hashable, object] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], object]) -> object:
        """The cached value of ``key``, made (outside the lock) and kept when absent."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value
