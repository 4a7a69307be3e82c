"""Columnar state stores: one numpy array per attribute, preallocated, grown by doubling.

Workers and requesters keep their row for life (rows are never reused, so every worker who ever
joined appears in the results). Batches and submission records are transient: their rows are
recycled through a free list, so memory stays bounded however long the run.
"""

from __future__ import annotations

import numpy as np


class ColumnStore:
    """A set of equally long numpy columns with a count of rows in use."""

    def __init__(self, capacity: int, columns: dict[str, tuple[np.dtype, object]]):
        self._spec = dict(columns)
        self.capacity = max(int(capacity), 1)
        self.n = 0
        for name, (dtype, fill) in self._spec.items():
            setattr(self, name, np.full(self.capacity, fill, dtype=dtype))

    def _grow(self, needed: int) -> None:
        new_cap = self.capacity
        while new_cap < needed:
            new_cap *= 2
        if new_cap == self.capacity:
            return
        for name, (dtype, fill) in self._spec.items():
            old = getattr(self, name)
            new = np.full((new_cap,) + old.shape[1:], fill, dtype=dtype)
            new[: self.capacity] = old
            setattr(self, name, new)
        self.capacity = new_cap

    def append(self, k: int) -> np.ndarray:
        """Reserve ``k`` new rows at the end and return their indices."""
        self._grow(self.n + k)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        return idx

    def add_matrix_column(self, name: str, width: int, dtype, fill) -> None:
        """A 2-D column (capacity x width), e.g. a worker's remembered requesters."""
        self._spec[name] = (dtype, fill)
        setattr(self, name, np.full((self.capacity, width), fill, dtype=dtype))


class RecyclingStore(ColumnStore):
    """A column store whose rows are freed and reused (batches, submission records)."""

    def __init__(self, capacity: int, columns: dict[str, tuple[np.dtype, object]]):
        super().__init__(capacity, columns)
        self.in_use = np.zeros(self.capacity, dtype=bool)
        self._free = np.arange(self.capacity - 1, -1, -1, dtype=np.int64)  # stack, top at the end
        self._n_free = self.capacity

    def _grow(self, needed: int) -> None:
        old_cap = self.capacity
        super()._grow(needed)
        if self.capacity == old_cap:
            return
        in_use = np.zeros(self.capacity, dtype=bool)
        in_use[:old_cap] = self.in_use
        self.in_use = in_use
        extra = np.arange(self.capacity - 1, old_cap - 1, -1, dtype=np.int64)
        free = np.empty(self.capacity, dtype=np.int64)
        free[: extra.size] = extra
        free[extra.size : extra.size + self._n_free] = self._free[: self._n_free]
        self._free = free
        self._n_free += extra.size

    def allocate(self, k: int) -> np.ndarray:
        """Take ``k`` free rows (reset to their fill values) and mark them in use."""
        if k > self._n_free:
            self._grow(self.capacity + k)
        idx = self._free[self._n_free - k : self._n_free].copy()
        self._n_free -= k
        self.in_use[idx] = True
        self.n = max(self.n, int(idx.max()) + 1) if k else self.n
        for name, (_dtype, fill) in self._spec.items():
            getattr(self, name)[idx] = fill
        return idx

    def release(self, idx: np.ndarray) -> None:
        """Return rows to the free list."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return
        self.in_use[idx] = False
        self._free[self._n_free : self._n_free + idx.size] = idx
        self._n_free += idx.size

    @property
    def n_in_use(self) -> int:
        return self.capacity - self._n_free
