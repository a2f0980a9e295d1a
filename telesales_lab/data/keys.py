"""Looking ids up: each key's position among a table's unique ids, through Arrow's hash lookup.

Grouping or joining a million rows by id text is among the slowest steps of the analyses
(pandas factorises the text each time). Where a computation runs for several months on the same
table, it looks the ids up once (:func:`positions`, the result kept in ``data.cache``) and then
groups and joins on whole-number positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def positions(keys, index_values) -> np.ndarray:
    """Position of each of ``keys`` in ``index_values`` (-1 if absent or missing): what
    ``pd.Index(index_values).get_indexer(keys)`` gives for unique ids, compared as text, with
    Arrow's hash lookup instead of one Python string per key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(pd.Series(keys).astype("string"))
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    pos = pc.index_in(arr, value_set=pa.array(pd.Series(index_values, dtype="string"), type=pa.string()))
    return np.asarray(pos.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
