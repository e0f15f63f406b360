"""Round trips: train on labeled data in each format, predict the same data without labels.

The predictions must equal those on the labeled original: columns matched by name
(reordered, extra, label removed), a flat or nested folder, an npz with only X, text
tables, bare arrays, DataFrames and lists of strings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import graft
from graft.errors import DataError, SpecError


@pytest.fixture(scope="module")
def mixed_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table with numeric features on very different scales, a categorical column that
    carries signal, missing values, an identifier column and integer labels."""
    rng = np.random.default_rng(0)
    n = 150
    y = rng.integers(0, 3, n)
    frame = pd.DataFrame({
        "small": y * 0.01 + rng.normal(0, 0.004, n),            # informative, tiny scale
        "huge": rng.normal(1000, 300, n),                        # noise, huge scale
        "colour": np.array(["red", "green", "blue"])[y],         # informative category
        "id": [f"row-{i}" for i in range(n)],                     # an identifier: dropped
        "target": y,
    })
    frame.loc[[3, 10, 40], "small"] = np.nan
    path = tmp_path_factory.mktemp("table") / "mixed.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory, mixed_table: Path) -> graft.run.Run:  # type: ignore[name-defined]
    out = tmp_path_factory.mktemp("runs") / "table"
    return graft.fit("builtin:mlp", f"csv:{mixed_table}", strategy="scratch", label_column="target",
                     epochs=15, lr=1e-2, out=out, progress=False)


def test_tables_are_preprocessed_and_the_choices_reported(table_run) -> None:  # type: ignore[no-untyped-def]
    assert table_run.metrics["test_accuracy"] > 0.9  # the tiny-scale and categorical signals are used
    lines = "\n".join(table_run.config["input_schema"])
    assert "standardised with training mean and std" in lines
    assert "column 'colour' (" in lines and "one-hot encoded over 3 training categories" in lines
    assert "column 'id' dropped" in lines and "missing value(s) in training, filled with the training median" in lines
    report = (table_run.run_dir / "report.md").read_text()
    assert "one-hot encoded" in report  # the report lists every preprocessing choice


def test_csv_round_trip_without_labels_reordered_with_extra_columns(table_run, mixed_table: Path,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    labeled = graft.load_run(table_run.run_dir).predict(f"csv:{mixed_table}")
    assert labeled.attrs["accuracy"] > 0.9 and "label" in labeled
    assert all(isinstance(v, (int, np.integer)) for v in labeled["prediction"])  # integer labels stay integers
    frame = pd.read_csv(mixed_table).drop(columns=["target"])
    frame["extra"] = 1.0
    frame = frame[["extra", "colour", "huge", "id", "small"]]
    frame.to_csv(tmp_path / "new.csv", index=False)
    unlabeled = graft.load_run(table_run.run_dir).predict(f"csv:{tmp_path / 'new.csv'}")
    assert unlabeled.attrs["accuracy"] is None and "label" not in unlabeled
    assert any("ignored column(s) the model does not use: extra" in n for n in unlabeled.attrs["notes"])
    assert unlabeled["prediction"].tolist() == labeled["prediction"].tolist()
    np.testing.assert_allclose(unlabeled["confidence"], labeled["confidence"], rtol=1e-6)
    # the same rows as a DataFrame and in another file format
    assert table_run.predict(frame)["prediction"].tolist() == labeled["prediction"].tolist()
    in_training_order = pd.read_csv(mixed_table).drop(columns=["target"])[["small", "huge", "colour", "id"]]
    as_array = table_run.predict(in_training_order.to_numpy(dtype=object))  # unnamed: matched by position
    assert as_array["prediction"].tolist() == labeled["prediction"].tolist()
    assert any("taken as the training's small, huge, colour, id" in n for n in as_array.attrs["notes"])
    frame.to_json(tmp_path / "new.jsonl", orient="records", lines=True)
    assert table_run.predict(f"csv:{tmp_path / 'new.jsonl'}")["prediction"].tolist() == labeled["prediction"].tolist()


def test_a_missing_column_is_a_clear_error_and_unseen_categories_a_note(table_run, mixed_table: Path,  # type: ignore[no-untyped-def]
                                                                       tmp_path: Path) -> None:
    frame = pd.read_csv(mixed_table).drop(columns=["target", "colour"])
    with pytest.raises(DataError, match=r"lacks the feature column\(s\) 'colour' the model was trained on"):
        table_run.predict(frame)
    frame = pd.read_csv(mixed_table).drop(columns=["target"]).head(4)
    frame["colour"] = ["purple", "red", "red", None]
    out = table_run.predict(frame)
    assert len(out) == 4 and any("not seen in training ('purple')" in n for n in out.attrs["notes"])


def test_arrays_fit_like_scikit_learn_and_predict_bare_arrays(tmp_path: Path, make_blobs) -> None:  # type: ignore[no-untyped-def]
    x, y = make_blobs(n_per_class=30)
    x[:, 0] *= 1000  # a feature on another scale: standardised with training statistics
    run = graft.fit("builtin:mlp", x, y, strategy="scratch", epochs=10, lr=1e-2, out=tmp_path / "r", progress=False)
    assert run.metrics["test_accuracy"] > 0.9
    with_labels = run.predict((x, y))
    bare = graft.load_run(tmp_path / "r").predict(x)
    assert bare["prediction"].tolist() == with_labels["prediction"].tolist() and with_labels.attrs["accuracy"] > 0.9
    np.savez(tmp_path / "x_only.npz", X=x)
    assert run.predict(f"npz:{tmp_path / 'x_only.npz'}")["prediction"].tolist() == with_labels["prediction"].tolist()
    with pytest.raises(DataError, match="has 5 feature columns; the model was trained on an unnamed array of 6"):
        run.predict(x[:, :5])
    assert next(run.model.parameters()).device.type == "cpu"  # a fitted model comes back on the CPU
    assert run.predict(x, device="cpu")["prediction"].tolist() == with_labels["prediction"].tolist()
    with pytest.raises(SpecError, match="Unknown device 'tpu'. Did you mean 'cpu'. Allowed: auto, cpu, cuda"):
        run.predict(x, device="tpu")


def _image_folder(root: Path, per_class: int = 6) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(("circle", "square", "stripe")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.zeros((20, 20), dtype=np.uint8)
            if c == 0:
                arr[5:15, 5:15] = 255
            elif c == 1:
                arr[::2] = 255
            else:
                arr[:, ::3] = 200
            arr = np.clip(arr.astype(int) + rng.integers(0, 40, arr.shape), 0, 255).astype(np.uint8)
            Image.fromarray(arr, mode="L").save(root / name / f"{name}{i}.png")
    return root


def test_folder_round_trip_flat_and_nested(tmp_path: Path) -> None:
    labeled = _image_folder(tmp_path / "shapes")
    run = graft.fit("builtin:lenet", f"folder:{labeled}", strategy="scratch", epochs=1, out=tmp_path / "r",
                    progress=False, test_fraction=0.3, val_fraction=0)
    flat, nested = tmp_path / "flat", tmp_path / "nested"
    flat.mkdir()
    for f in labeled.rglob("*.png"):
        shutil.copy(f, flat / f.name)
        (nested / "2024" / f.stem[:3]).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, nested / "2024" / f.stem[:3] / f.name)
    ref = run.predict(f"folder:{labeled}")
    assert ref.attrs["accuracy"] is not None and set(ref["label"]) == {"circle", "square", "stripe"}
    by_name = dict(zip(ref["path"].map(lambda p: Path(p).name), ref["prediction"]))
    for folder in (flat, nested):
        out = graft.load_run(tmp_path / "r").predict(f"folder:{folder}")
        assert len(out) == 18 and out.attrs["accuracy"] is None
        assert {Path(p).name: v for p, v in zip(out["path"], out["prediction"])} == by_name
    assert any(p.startswith("2024/") for p in out["path"])  # the relative path is kept
    one_class = tmp_path / "one" / "circle"
    one_class.mkdir(parents=True)
    shutil.copy(labeled / "circle" / "circle0.png", one_class)
    single = run.predict(f"folder:{one_class.parent}")  # a folder of one class is fine to predict
    assert len(single) == 1 and single["label"].tolist() == ["circle"]


def test_float_images_keep_the_training_pixel_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = rng.uniform(0, 4, size=(40, 16, 16))
    x[y == 1, 4:12, 4:12] += 12.0  # floats 0..16, like scikit-learn's digits
    run = graft.fit("builtin:lenet", x, y, strategy="scratch", epochs=3, lr=1e-2, out=tmp_path / "r",
                    progress=False, image_size=16)
    assert run.schema is not None and run.schema.pixels["rule"] == "range"
    whole = run.predict(x)["prediction"].tolist()
    # one image alone has its own, smaller range: the saved rule must still scale it as in training
    singles = [run.predict(x[i : i + 1])["prediction"].iloc[0] for i in (0, 25)]
    assert singles == [whole[0], whole[25]]


def test_text_table_round_trip(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", strategy="linear-probe", text_column="review",
                    out=tmp_path / "r", progress=False)
    assert "text column: 'review'" in run.config["input_schema"]
    ref = run.predict(f"csv:{sentiment_csv}")
    texts = pd.read_csv(sentiment_csv)
    texts[["domain", "review"]].to_csv(tmp_path / "unlabeled.csv", index=False)
    out = graft.load_run(tmp_path / "r").predict(f"csv:{tmp_path / 'unlabeled.csv'}")
    assert out["prediction"].tolist() == ref["prediction"].tolist()
    assert run.predict(texts["review"].tolist())["prediction"].tolist() == ref["prediction"].tolist()


def test_a_module_run_reloads_with_the_module(tmp_path: Path, make_blobs) -> None:  # type: ignore[no-untyped-def]
    import torch

    x, y = make_blobs()
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 8), torch.nn.ReLU())
    run = graft.fit(net, x, y, strategy="scratch", epochs=2, out=tmp_path / "r", progress=False)
    with pytest.raises(Exception, match=r"load_run\(run_dir, model=MyModule\(\)\)"):
        graft.load_run(tmp_path / "r")
    again = graft.load_run(tmp_path / "r", model=torch.nn.Sequential(torch.nn.Linear(x.shape[1], 8), torch.nn.ReLU()))
    assert again.predict(x)["prediction"].tolist() == run.predict(x)["prediction"].tolist()


def test_teacher_is_refused_by_strategies_that_do_not_use_one(tmp_path: Path, blobs_npz: Path,
                                                             finished_run: Path) -> None:
    from graft.errors import ConfigError

    with pytest.raises(ConfigError, match="does not use a teacher, but --teacher was given"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="scratch", teacher=f"run:{finished_run}",
                  out=tmp_path / "r")


def test_public_api_is_listed() -> None:
    assert {"fit", "compare", "load_run", "pretrain", "__version__"} <= set(dir(graft))


def test_pixel_rules_follow_the_dtype(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 20)
    u8 = rng.integers(0, 100, size=(40, 16, 16)).astype(np.uint8)
    u8[y == 1, 4:12, 4:12] = 250
    u16 = u8.astype(np.uint16) * 257  # the same images as 16-bit
    run = graft.fit("builtin:lenet", u16, y, strategy="scratch", epochs=2, out=tmp_path / "r", progress=False,
                    image_size=16)
    assert run.schema is not None and run.schema.pixels["rule"] == "uint16"
    # uint8 data is read as uint8 (not with the 16-bit rule): the same images, the same predictions
    assert run.predict(u8)["prediction"].tolist() == run.predict(u16)["prediction"].tolist()
    as_float = u8.astype(np.float32) / 255.0
    assert run.predict(as_float)["prediction"].tolist() == run.predict(u16)["prediction"].tolist()


def test_text_run_predicts_a_dataframe_with_other_columns(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", strategy="linear-probe", text_column="review",
                    out=tmp_path / "r", progress=False)
    frame = pd.read_csv(sentiment_csv)
    ref = run.predict(f"csv:{sentiment_csv}")["prediction"].tolist()
    assert run.predict(frame)["prediction"].tolist() == ref
    assert run.predict(frame.drop(columns=["label"]))["prediction"].tolist() == ref
    with pytest.raises(DataError, match="has no text column 'review'"):
        run.predict(frame.rename(columns={"review": "body"}))


def test_domain_adaptation_and_shift_take_a_target_without_labels(tmp_path: Path, make_blobs) -> None:  # type: ignore[no-untyped-def]
    from graft.notes import GraftNote

    xs, ys = make_blobs(40, seed=0)
    xt, _ = make_blobs(40, seed=1, shift=1.0)
    with pytest.warns(GraftNote, match="has no labels: all of it adapts the model"):
        run = graft.fit("builtin:mlp", xt, strategy="dann", source=(xs, ys), epochs=2, batch_size=32,
                        out=tmp_path / "r", progress=False, shift_report=False)
    assert run.metrics["test_accuracy"] is None and run.metrics["n_test"] == 0 and run.metrics["selected_by"] == "im"
    assert len(run.predict(xt)) == len(xt)
    measured = graft.shift("builtin:mlp", (xs, ys), xt)
    assert measured["n_target"] == len(xt) and measured["mmd_linear"] > 0


def test_label_types_round_trip_and_notes_point_at_the_callers_line(tmp_path: Path, make_blobs) -> None:  # type: ignore[no-untyped-def]
    from graft.notes import GraftNote

    x, y = make_blobs(20)
    flags = graft.fit("builtin:mlp", x, y == 1, epochs=1, out=tmp_path / "b", progress=False)
    assert set(flags.predict(x)["prediction"]) <= {True, False}
    halves = graft.fit("builtin:mlp", x, y + 0.5, epochs=1, out=tmp_path / "f", progress=False)
    assert set(halves.predict(x)["prediction"]) <= {0.5, 1.5, 2.5}
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(extra=1.0)
    with pytest.warns(GraftNote, match="ignored column") as caught:
        flags.predict(frame)
    assert any(Path(w.filename).name == "test_predict.py" for w in caught)


def test_an_option_of_another_strategy_names_it(tmp_path: Path, blobs_npz: Path) -> None:
    from graft.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--head is an option of linear-probe\..*Fix: drop --head, or train with a strategy that declares it \(--strategy linear-probe\)"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="scratch", head="logreg", out=tmp_path)
