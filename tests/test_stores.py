"""The column stores and the due-date calendar: rows kept across growth, every row taken exactly
at its hour."""

import numpy as np

from crowdsim.stores import CHUNK, ColumnStore, DueCalendar, RecyclingStore


def test_grouped_columns_are_views_of_one_row_and_survive_growth():
    cols = {"a": (np.int64, -1), "b": (np.float64, 0.5), "c": (np.int32, 7, 3), "d": (np.int8, 2)}
    s = ColumnStore(4, cols, groups=(("a", "c"),))
    assert s.a.strides == s.c.strides[:1]  # a and c share rows; b and d are plain columns
    assert s.b.strides == (8,)
    idx = s.append(3)
    s.a[idx] = [10, 11, 12]
    s.c[idx] = np.arange(9).reshape(3, 3)
    s.b[idx] = [1.0, 2.0, 3.0]
    s.append(10)  # grows (doubling) and keeps what was there
    assert s.capacity >= 13
    np.testing.assert_array_equal(s.a[:3], [10, 11, 12])
    np.testing.assert_array_equal(s.c[:3], np.arange(9).reshape(3, 3))
    np.testing.assert_array_equal(s.b[:3], [1.0, 2.0, 3.0])
    assert (s.a[3:] == -1).all() and (s.c[3:] == 7).all() and (s.d == 2).all()


def test_calendar_returns_every_row_at_its_hour_across_rings_and_pool_growth():
    rng = np.random.default_rng(3)
    store = RecyclingStore(64, {"due": (np.int32, 0)}, rows=True)
    cal = DueCalendar(store, "due", slots=16)  # a short ring: many rows are due rings later
    n_chunks = cal.rows.shape[0]
    expected: dict[int, list[int]] = {}
    hour = 0
    for hour in range(200):
        got = cal.pop(hour)
        assert list(got) == expected.pop(hour, [])  # exactly the rows due now, in filing order
        assert (store.due[got] == hour).all()
        store.release(got)
        k = int(rng.integers(0, 20 * CHUNK))
        if k:
            idx = store.allocate(k)
            due = hour + 1 + rng.integers(0, 80, size=k)  # up to 5 rings ahead
            cal.add(due, idx)
            for r, h in zip(idx, due, strict=True):
                expected.setdefault(int(h), []).append(int(r))
        assert len(cal) == sum(len(v) for v in expected.values())
    assert cal.rows.shape[0] > n_chunks  # the chunk pool grew
    assert store.capacity > 64  # and the store
    while expected:
        hour += 1
        assert list(cal.pop(hour)) == expected.pop(hour, [])
    assert len(cal) == 0
