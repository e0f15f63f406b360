"""TableSchema: preprocessing fitted on training rows, applied again to new rows by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graft.data.table_schema import MAX_ONE_HOT, TableSchema
from graft.errors import DataError


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "num": rng.normal(50, 10, n),
        "gap": np.where(np.arange(n) % 5 == 0, np.nan, 1.0 + np.arange(n)),
        "colour": np.array(["red", "green", "blue"])[np.arange(n) % 3],
        "city": [f"c{i % 30}" for i in range(n)],           # 30 categories: ordinal
        "uid": [f"u{i}" for i in range(n)],                   # all distinct: dropped
        "empty": [np.nan] * n,                                # nothing to learn: dropped
    })


def test_statistics_come_from_the_training_rows_only() -> None:
    frame = _frame()
    train = np.arange(40)
    schema = TableSchema.fit(frame, train)
    x, _ = schema.transform(frame.iloc[train])
    num = schema.columns[0]
    assert num.kind == "numeric" and np.isclose(num.mean, frame["num"][:40].mean())
    assert np.allclose(x[:, 0].mean(), 0, atol=1e-6) and np.isclose(x[:, 0].std(), 1, atol=1e-3)
    gap = schema.columns[1]
    assert gap.missing == 8 and gap.fill == np.nanmedian(frame["gap"][:40])


def test_each_column_kind_and_its_width() -> None:
    schema = TableSchema.fit(_frame(), np.arange(60))
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"num": "numeric", "gap": "numeric", "colour": "onehot", "city": "ordinal",
                     "uid": "dropped", "empty": "dropped"}
    assert MAX_ONE_HOT < 30 and schema.width == 1 + 1 + 3 + 1
    lines = "\n".join(schema.describe())
    assert "column 'uid' dropped" in lines and "ordinal codes" in lines and "every training value is missing" in lines


def test_new_rows_by_name_with_unseen_and_missing_values() -> None:
    frame = _frame()
    schema = TableSchema.fit(frame, np.arange(60))
    new = frame.head(3)[["city", "colour", "num", "gap"]].copy()  # another order, dropped columns absent
    new.loc[0, "colour"] = "purple"
    new.loc[1, "num"] = np.nan
    x, notes = schema.transform(new)
    ref, _ = schema.transform(frame.head(3))
    assert x.shape == (3, 6) and np.allclose(x[2], ref[2])
    assert np.allclose(x[0, 2:5], 0)  # an unseen category: all zeros
    assert any("'purple'" in n for n in notes) and any("filled with the training median" in n for n in notes)
    with pytest.raises(DataError, match=r"lacks the feature column\(s\) 'num'"):
        schema.transform(new.drop(columns=["num"]))


def test_round_trip_through_json_gives_the_same_encoding() -> None:
    frame = _frame()
    schema = TableSchema.fit(frame, np.arange(60))
    again = TableSchema.from_dict(schema.to_dict())
    assert np.array_equal(schema.transform(frame)[0], again.transform(frame)[0])


def test_a_table_with_nothing_usable_is_refused() -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(40)]})
    with pytest.raises(DataError, match="No usable feature column"):
        TableSchema.fit(frame, np.arange(40))
