"""Results computed from a data set, remembered in one visible object: :class:`Cache`.

A notebook asks for the same month's numbers many times (ranking, trends, awards,
promotion), and each month needs the months before it. A loaded
:class:`~telesales_lab.data.load.Dataset` cannot change, so what its tables give is computed
once and kept in its ``data.cache``.

Each result is kept under a :class:`Key` naming everything it depends on: the computation,
the *version* of every table it reads (a number given to each table when the data set is
made; tables never change, so a version is never reused for other contents), the month,
the policy sections it reads and any other argument. A result computed from other tables,
another month or another policy is therefore never returned. ``data.replace(orders=frame)``
makes a new data set with a new version of ``orders``; its cache starts with the results of
the old one that do not read ``orders``.

The cache never hands out what it keeps: a frame or series comes back as a lazy copy
(pandas Copy-on-Write: nothing is copied until someone writes to it, and then only the
writer's copy changes), an array as a read-only view, a dict or tuple of them element by
element. While a result is computed, every table it reads is checked against the tables its
key names, so a result cannot depend on a table its key leaves out without an error in the
tests.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from telesales_lab.data.periods import parse_month


class CacheKeyError(RuntimeError):
    """A computation read a table that its cache key does not name (a bug in the package)."""


@dataclass(frozen=True)
class Key:
    """What a remembered result depends on.

    Attributes
    ----------
    name : str
        The computation (``"evaluation_detail"``, ``"calls_by_month"``, ...).
    tables : tuple of (str, int or None)
        Each table it reads, with the version of that table in the data set (None: the
        optional table is absent).
    month : str or None
        The month (``YYYY-MM``) it is computed for.
    policy : str or None
        The policy sections it reads, as sorted JSON.
    params : tuple
        Any other argument (a number of days, ...).
    """

    name: str
    tables: tuple[tuple[str, int | None], ...]
    month: str | None = None
    policy: str | None = None
    params: tuple = ()


def handout(value: Any) -> Any:
    """What a caller gets for a kept ``value``: never the object itself.

    Frames and series: a lazy copy (``copy(deep=False)`` under Copy-on-Write; writing to it
    copies the written block first). Arrays: a read-only view. Dicts, tuples and lists:
    element by element. Index, frozenset, numbers and text are immutable and come back as
    they are.
    """
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=False)
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if isinstance(value, dict):
        return {k: handout(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(handout(v) for v in value)
    if isinstance(value, list):
        return [handout(v) for v in value]
    return value


class Cache:
    """The results remembered for one data set, by :class:`Key`.

    Use :func:`cached` and :func:`cached_months` rather than the methods. ``hits`` and
    ``misses`` count lookups; ``len(cache)`` and ``summary()`` show what is kept;
    ``clear()`` forgets everything (only memory is at stake: nothing kept can be stale).
    """

    def __init__(self) -> None:
        self._entries: dict[Key, Any] = {}
        self._computing: list[tuple[str, frozenset[str]]] = []  # computations under way, innermost last
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<Cache: {len(self)} results, {self.hits} hits, {self.misses} misses>"

    def keys(self) -> list[Key]:
        """The keys of the results kept."""
        return list(self._entries)

    def summary(self) -> pd.DataFrame:
        """Results kept per computation: ``name``, ``n_results``."""
        n = Counter(k.name for k in self._entries)
        return pd.DataFrame({"name": list(n), "n_results": list(n.values())})

    def clear(self) -> None:
        """Forget every result (to free memory)."""
        self._entries.clear()

    # ------------------------------------------------------------------ lookups
    def get(self, key: Key, compute: Callable[[], Any]) -> Any:
        """The result kept under ``key``, computing (and keeping) it first if needed."""
        if key in self._entries:
            self.hits += 1
            self._check(t for t, _ in key.tables)
        else:
            self.misses += 1
            self._entries[key] = self._run(key.name, key.tables, compute)
        return handout(self._entries[key])

    def get_many(self, keys: dict, compute: Callable[[list], dict]) -> dict:
        """``{k: result}`` for each entry of ``keys``; ``compute(missing)`` returns the
        results of the keys not kept yet (a dict over the same ``k``), computed together."""
        missing = [k for k, key in keys.items() if key not in self._entries]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        self._check(t for key in keys.values() for t, _ in key.tables)
        if missing:
            tables = tuple(sorted({t for k in missing for t in keys[k].tables}))
            fresh = self._run(keys[missing[0]].name, tables, lambda: compute(missing))
            for k in missing:
                self._entries[keys[k]] = fresh[k]
        return {k: handout(self._entries[key]) for k, key in keys.items()}

    def carry_over(self, versions: dict[str, int]) -> Cache:
        """A new cache with the results whose tables all have these ``versions``
        (``{table: version}`` of another data set; a table absent there is absent)."""
        out = Cache()
        out._entries = {k: v for k, v in self._entries.items()
                        if all(versions.get(t) == ver for t, ver in k.tables)}
        return out

    # ------------------------------------------------------------------ dependency check
    def _run(self, name: str, tables: Iterable[tuple[str, int | None]], compute: Callable[[], Any]) -> Any:
        names = frozenset(t for t, _ in tables)
        self._check(names)  # a computation under way reads them too
        self._computing.append((name, names))
        try:
            return compute()
        finally:
            self._computing.pop()

    def _check(self, tables: Iterable[str]) -> None:
        if not self._computing:
            return
        for table in tables:
            self.read(table)

    def read(self, table: str) -> None:
        """Note that ``table`` is read (the data set calls this on every access): an error
        if a computation under way does not name it in its key."""
        for name, allowed in self._computing:
            if table not in allowed:
                raise CacheKeyError(f"the cached computation '{name}' reads table '{table}', which its key "
                                    f"does not name (it names {sorted(allowed)}): add '{table}' to its tables")


# ----------------------------------------------------------------------------- helpers for the analyses
def policy_key(policy: dict | None, sections: tuple[str, ...]) -> str | None:
    """The policy ``sections`` a result reads, as sorted JSON (None without a policy)."""
    if policy is None:
        return None
    return json.dumps({k: policy[k] for k in sections}, sort_keys=True)


def make_key(data, name: str, tables: tuple[str, ...], month=None, policy: dict | None = None,
             sections: tuple[str, ...] = (), params: tuple = ()) -> Key:
    """The :class:`Key` of ``name`` computed from ``data``'s ``tables`` (with their versions)."""
    if month is not None:
        month = str(month if isinstance(month, pd.Period) else parse_month(month))
    return Key(name, tuple((t, data.version(t)) for t in sorted(set(tables))), month,
               policy_key(policy, sections), tuple(params))


def _cache_of(data) -> Cache | None:
    cache = getattr(data, "cache", None)
    return cache if isinstance(cache, Cache) else None


def cached(data, name: str, tables: tuple[str, ...], compute: Callable[[], Any], *, month=None,
           policy: dict | None = None, sections: tuple[str, ...] = (), params: tuple = ()) -> Any:
    """``compute()``, remembered in ``data.cache`` under its :class:`Key`; the caller gets
    a copy or a read-only view (:func:`handout`).

    ``tables`` are the tables ``compute`` reads (checked while it runs), ``month``, the
    policy ``sections`` and ``params`` the rest of what the result depends on. An object
    without a :class:`Cache` (not a loaded data set) gets ``compute()`` each time.
    """
    cache = _cache_of(data)
    if cache is None:
        return compute()
    return cache.get(make_key(data, name, tables, month, policy, sections, params), compute)


def cached_months(data, name: str, tables: tuple[str, ...], months: list[pd.Period],
                  compute: Callable[[list[pd.Period]], dict], *, policy: dict, sections: tuple[str, ...],
                  params: tuple = ()) -> dict[pd.Period, Any]:
    """:func:`cached` for several months at once: ``compute(missing)`` returns a dict with
    the result of each month not remembered yet, computed together."""
    cache = _cache_of(data)
    if cache is None:
        fresh = compute(list(months))
        return {m: fresh[m] for m in months}
    keys = {m: make_key(data, name, tables, m, policy, sections, params) for m in months}
    return cache.get_many(keys, compute)
