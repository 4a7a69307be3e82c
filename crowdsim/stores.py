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

    def allocate(self, k: int, reset: bool = True) -> np.ndarray:
        """Take ``k`` free rows and mark them in use; ``reset`` refills them with column defaults
        (skip it only when the caller sets every column)."""
        if k > self._n_free:
            self._grow(self.capacity + k)
        idx = self._free[self._n_free - k : self._n_free].copy()
        self._n_free -= k
        self.in_use[idx] = True
        self.n = max(self.n, int(idx.max()) + 1) if k else self.n
        if reset:
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


class Calendar:
    """Row indices filed under the hour they fall due, in two levels: days, then hours.

    Filing groups by day (few distinct values per call); the rows of a day are sorted into hours
    only when that day begins. Popping an hour returns its rows in filing order.
    """

    def __init__(self) -> None:
        self._days: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._hours: dict[int, list[np.ndarray]] = {}
        self._day = -1

    def __len__(self) -> int:
        return sum(i.size for chunks in self._days.values() for _, i in chunks) + sum(
            i.size for parts in self._hours.values() for i in parts
        )

    def add(self, hours: np.ndarray, idx: np.ndarray) -> None:
        if idx.size == 0:
            return
        hours = np.asarray(hours, dtype=np.int64)
        days = hours // 24
        first = int(days[0])
        if (days == first).all():
            self._file_day(first, hours, idx)
            return
        order = np.argsort(days, kind="stable")
        d_sorted = days[order]
        cuts = np.flatnonzero(d_sorted[1:] != d_sorted[:-1]) + 1
        bounds = np.r_[0, cuts, d_sorted.size]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            sel = order[a:b]
            self._file_day(int(d_sorted[a]), hours[sel], idx[sel])

    def _file_day(self, day: int, hours: np.ndarray, idx: np.ndarray) -> None:
        if day <= self._day:
            self._file_hours(hours, idx)
        else:
            self._days.setdefault(day, []).append((hours, idx))

    def _file_hours(self, hours: np.ndarray, idx: np.ndarray) -> None:
        first = int(hours[0])
        if (hours == first).all():
            self._hours.setdefault(first, []).append(idx)
            return
        order = np.argsort(hours, kind="stable")
        h_sorted = hours[order]
        cuts = np.flatnonzero(h_sorted[1:] != h_sorted[:-1]) + 1
        bounds = np.r_[0, cuts, h_sorted.size]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            self._hours.setdefault(int(h_sorted[a]), []).append(idx[order[a:b]])

    def pop(self, hour: int) -> np.ndarray:
        day = hour // 24
        while self._day < day:
            self._day += 1
            for hours, idx in self._days.pop(self._day, []):
                self._file_hours(hours, idx)
        parts = self._hours.pop(hour, None)
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
