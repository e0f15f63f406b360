"""Text data: tokenisation with dynamic padding, built-in text sets, domain filters, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from graft.data import load_source, make_dataset, make_splits
from graft.data.batching import concat_inputs, input_count
from graft.errors import DataError, SpecError
from graft.models import DataInfo, build_model


def test_concat_inputs_pads_token_batches_to_one_length() -> None:
    a = {"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 3, dtype=torch.long)}
    b = {"input_ids": torch.ones(1, 5, dtype=torch.long), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    out = concat_inputs(a, b)
    assert out["input_ids"].shape == (3, 5) and input_count(out) == 3
    assert out["attention_mask"].sum(1).tolist() == [3, 3, 5]
    assert concat_inputs(torch.zeros(2, 4), torch.zeros(3, 4)).shape == (5, 4)


def test_text_csv_tokenised_once_and_batched(sentiment_csv: Path, tiny_bert: Path) -> None:
    source = load_source(f"csv:{sentiment_csv}", text_column="review")
    assert source.kind == "text" and source.classes == ["neg", "pos"]
    model = build_model(f"hf:{tiny_bert}", DataInfo.from_source(source))
    data = make_dataset(source, np.arange(6), model.spec.input)
    assert isinstance(data[0][0], list) and all(isinstance(t, int) for t in data[0][0])
    x, y = data.collate([data[i] for i in range(6)])
    assert x["input_ids"].shape[1] == max(len(data[i][0]) for i in range(6))
    assert y.dtype == torch.long and model(x).shape == (6, 2)


def test_missing_text_column_lists_the_columns(sentiment_csv: Path) -> None:
    with pytest.raises(DataError, match=r"no column 'text'.*Columns: 'review', 'label', 'domain'"):
        load_source(f"csv:{sentiment_csv}", text_column="text")


def test_empty_texts_are_named(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["good", "  ", "bad", "ok"], "label": [1, 0, 0, 1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"1 empty text\(s\) \(rows 1\)"):
        load_source(f"csv:{path}", text_column="text")


def test_a_label_with_one_example_is_refused_when_splitting(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["good", "fine", "bad", "poor", "odd"], "label": ["p", "p", "n", "n", "x"]}).to_csv(
        path, index=False)
    source = load_source(f"csv:{path}", text_column="text")
    with pytest.raises(DataError, match="Class 'x' has 1 labeled example"):
        make_splits(source)


def test_filters_select_a_domain_and_keep_the_classes(sentiment_csv: Path) -> None:
    movie = load_source(f"csv:{sentiment_csv}?domain=movie", text_column="review")
    book = load_source(f"csv:{sentiment_csv}?domain!=movie", text_column="review")
    assert len(movie) == len(book) == 60 and movie.classes == book.classes == ["neg", "pos"]
    assert all(t.startswith("movie") for t in movie.x) and all(t.startswith("book") for t in book.x)
    assert movie.name.endswith("?domain=movie")
    with pytest.raises(DataError, match=r"no column 'lang' to filter on. Filterable columns: 'domain', 'label'"):
        load_source(f"csv:{sentiment_csv}?lang=en", text_column="review")
    with pytest.raises(DataError, match=r"No row .* has domain = 'film'.*Common values: 'book', 'movie'"):
        load_source(f"csv:{sentiment_csv}?domain=film", text_column="review")
    with pytest.raises(SpecError, match="Cannot read the filter 'domain'"):
        load_source(f"csv:{sentiment_csv}?domain", text_column="review")


def test_bbc_news_has_five_sorted_topics() -> None:
    source = load_source("builtin:bbc-news")
    assert source.kind == "text" and len(source) == 2225
    assert source.classes == sorted(source.classes) and len(source.classes) == 5
    assert np.bincount(source.y).min() > 350


def test_drug_reviews_split_by_condition() -> None:
    whole = load_source("builtin:drug-reviews")
    assert whole.classes == ["negative", "neutral", "positive"] and len(whole) == 979
    assert set(whole.splits) == {"train", "test"}
    source = load_source("builtin:drug-reviews?condition=Birth Control")
    target = load_source("builtin:drug-reviews?condition!=Birth Control")
    assert len(source) + len(target) == len(whole)
    assert set(source.meta["rows"]["condition"]) == {"Birth Control"}
    assert "Birth Control" not in set(target.meta["rows"]["condition"])
    for part in (source, target):  # predefined splits survive the filter
        assert sum(len(v) for v in part.splits.values()) == len(part)
    assert not any("&#039;" in t for t in whole.x)


def test_concat_inputs_joins_raw_text_batches() -> None:
    assert concat_inputs(["a", "b"], ["c"]) == ["a", "b", "c"]
    assert input_count(["a", "b"]) == 2
