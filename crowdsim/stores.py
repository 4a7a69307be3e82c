"""Columnar state stores: one numpy array per attribute, preallocated, grown by doubling.

Workers and requesters keep their row for life (rows are never reused, so every worker who ever
joined appears in the results). Batches and submission records are transient: their rows are
recycled through a free list, so memory stays bounded however long the run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class ColumnStore:
    """A set of equally long numpy columns with a count of rows in use. ``columns`` maps names to
    ``(dtype, fill)``, or ``(dtype, fill, width)`` for a 2-D column (capacity x width).

    Columns named together in ``groups`` are fields of one structured array, so a row's values of
    those columns sit together in memory: for columns read and written one row at a time at
    scattered rows (a submission record; what settling a record changes for its worker), one or
    two cache lines per row instead of one per column. ``rows=True`` groups every column, and
    ``table`` is then the structured array itself (compiled phases take it whole). Grouped
    columns are strided views; numpy and the compiled kernels use them like the others.
    """

    def __init__(
        self,
        capacity: int,
        columns: dict[str, tuple[np.dtype, object]],
        rows: bool = False,
        groups: tuple[tuple[str, ...], ...] = (),
    ):
        self._spec = {name: (c[0], c[1], tuple(c[2:])) for name, c in columns.items()}
        self._rows = rows
        self._groups = groups
        self.capacity = 0
        self.n = 0
        self._build(max(int(capacity), 1))

    def _build(self, capacity: int) -> None:
        """(Re)create the columns with ``capacity`` rows, keeping the values of existing rows."""
        old_cap = self.capacity
        groups = (tuple(self._spec),) if self._rows else self._groups
        new = {}
        for group in groups:
            names = [name for name in group if name in self._spec]
            if not names:
                continue
            dt = np.dtype([(name, *self._spec[name][::2]) for name in names], align=True)
            raw = np.empty(capacity * dt.itemsize + 64, dtype=np.uint8)
            start = -raw.ctypes.data % 64  # rows start on a cache line
            table = raw[start : start + capacity * dt.itemsize].view(dt)
            new |= {name: table[name] for name in names}
            if self._rows:
                self.table = table  # the whole row as one structured array
        for name, (dtype, _, tail) in self._spec.items():
            if name not in new:
                new[name] = np.empty((capacity,) + tail, dtype=dtype)
        for name, (_, fill, _) in self._spec.items():
            col = new[name]
            old = getattr(self, name, None)
            keep = min(old_cap, capacity) if old is not None else 0
            if keep:
                col[:keep] = old[:keep]
            col[keep:] = fill
            setattr(self, name, col)
        self.capacity = capacity

    def _grow(self, needed: int) -> None:
        new_cap = self.capacity
        while new_cap < needed:
            new_cap *= 2
        if new_cap != self.capacity:
            self._build(new_cap)

    def append(self, k: int) -> np.ndarray:
        """Reserve ``k`` new rows at the end and return their indices."""
        self._grow(self.n + k)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        return idx


class RecyclingStore(ColumnStore):
    """A column store whose rows are freed and reused (batches, submission records)."""

    def __init__(
        self, capacity: int, columns: dict[str, tuple[np.dtype, object]], rows: bool = False
    ):
        super().__init__(capacity, columns, rows)
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
            for name, (_dtype, fill, _tail) in self._spec.items():
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


CHUNK = 32  # rows per calendar chunk


class CalendarArrays(NamedTuple):
    """A :class:`DueCalendar`'s arrays, as the compiled functions take them."""

    head: np.ndarray  # newest chunk of each list
    count: np.ndarray  # rows in each list
    rows: np.ndarray  # (chunks, CHUNK) row numbers
    next: np.ndarray  # the chunk after each (older), -1 at the end
    fill: np.ndarray  # rows in each chunk
    free: np.ndarray  # free chunks: free[:free_top[0]]
    free_top: np.ndarray


class DueCalendar:
    """Rows of a :class:`RecyclingStore` filed under the hour they fall due (``hour_column``).

    A ring of ``slots`` lists, list ``h % slots`` holding the rows due at hour ``h``. A list is a
    chain of chunks of ``CHUNK`` row numbers, so taking an hour's rows reads them in runs rather
    than following one pointer per row. Filing is O(1) per row; taking an hour walks one list,
    returns the rows due then (in filing order) and files again any due a whole ring later, so
    horizons longer than the ring are still exact. The work is in compiled functions so that the
    compiled phases can file and take rows themselves: they get :meth:`arrays`.
    """

    def __init__(self, store: RecyclingStore, hour_column: str, slots: int = 2048) -> None:
        self.store = store
        self.hour_column = hour_column
        self.head = np.full(slots, -1, dtype=np.int64)  # newest chunk of each list
        self.count = np.zeros(slots, dtype=np.int64)  # rows in each list (due now or a ring later)
        self._chunks(max(256, store.capacity // 8))

    def _chunks(self, n: int) -> None:
        """Grow the chunk pool to ``n`` chunks."""
        rows = np.empty((n, CHUNK), dtype=np.int32)
        nxt = np.full(n, -1, dtype=np.int32)
        fill = np.zeros(n, dtype=np.int32)
        free = np.empty(n, dtype=np.int32)
        k = n_free = 0
        if hasattr(self, "rows"):
            k = self.rows.shape[0]
            rows[:k], nxt[:k], fill[:k] = self.rows, self.next, self.fill
            n_free = int(self.free_top[0])
            free[:n_free] = self.free[:n_free]
        free[n_free : n_free + n - k] = np.arange(n - 1, k - 1, -1)
        self.rows, self.next, self.fill, self.free = rows, nxt, fill, free
        self.free_top = np.array([n_free + n - k], dtype=np.int64)  # free chunks: free[:top]

    def __len__(self) -> int:
        return int(self.count.sum())

    def arrays(self, reserve: int = 0) -> CalendarArrays:
        """The calendar's arrays for the compiled functions, with room to file ``reserve`` rows."""
        if self.free_top[0] < reserve + 1:
            n = self.rows.shape[0]
            self._chunks(max(2 * n, n + reserve + 1))
        return CalendarArrays(
            self.head, self.count, self.rows, self.next, self.fill, self.free, self.free_top
        )

    def add(self, hours: np.ndarray, idx: np.ndarray) -> None:
        """File rows ``idx`` under ``hours`` (also written to the store's hour column)."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return
        col = getattr(self.store, self.hour_column)
        col[idx] = hours
        calendar_file_rows(self.arrays(reserve=idx.size), idx, col)

    def pop(self, hour: int) -> np.ndarray:
        """The rows due at ``hour``, removed from the calendar."""
        slot = hour % self.head.size
        if self.count[slot] == 0:
            return np.empty(0, dtype=np.int64)
        out = np.empty(int(self.count[slot]), dtype=np.int64)
        n = calendar_take(self.arrays(), getattr(self.store, self.hour_column), hour, out)
        return out[:n]


@njit(cache=True, inline="always")
def calendar_file(cal, row, hour):
    """File ``row`` under ``hour`` in calendar ``cal`` (the pool must have a free chunk)."""
    # (one array a line, by attribute: numba's alias analysis loses arrays unpacked from a
    # tuple, ``a, b = ...``, and a dead-code pass may then drop writes to them; see
    # crowdsim.market.rng.prefetch)
    head = cal.head
    count = cal.count
    rows = cal.rows
    nxt = cal.next
    fill = cal.fill
    free = cal.free
    free_top = cal.free_top
    s = hour % head.size
    c = head[s]
    if c < 0 or fill[c] == rows.shape[1]:
        free_top[0] -= 1
        c = free[free_top[0]]
        nxt[c] = head[s]
        fill[c] = 0
        head[s] = c
    rows[c, fill[c]] = row
    fill[c] += 1
    count[s] += 1


@njit(cache=True)
def calendar_file_rows(cal, idx, hour_col):
    """File rows ``idx`` under their hours ``hour_col[idx]``."""
    for row in idx:
        calendar_file(cal, row, hour_col[row])


@njit(cache=True)
def calendar_take(cal, hour_col, hour, out):
    """Take the rows due at ``hour`` into ``out`` (filing order), file again those due a ring
    later, and return how many were taken."""
    head = cal.head  # (one a line: see calendar_file)
    count = cal.count
    rows = cal.rows
    nxt = cal.next
    fill = cal.fill
    free = cal.free
    free_top = cal.free_top
    s = hour % head.size
    chain = np.empty(count[s] + 1, np.int64)  # the list's chunks, newest first
    n_chunks = 0
    c = head[s]
    while c >= 0:
        chain[n_chunks] = c
        n_chunks += 1
        c = nxt[c]
    later = np.empty(count[s], np.int64)
    n = 0
    n_later = 0
    for k in range(n_chunks - 1, -1, -1):  # oldest chunk first
        c = chain[k]
        for i in range(fill[c]):
            row = rows[c, i]
            if hour_col[row] == hour:
                out[n] = row
                n += 1
            else:
                later[n_later] = row
                n_later += 1
        free[free_top[0]] = c
        free_top[0] += 1
    head[s] = -1
    count[s] = 0
    for i in range(n_later):
        calendar_file(cal, later[i], hour_col[later[i]])
    return n
