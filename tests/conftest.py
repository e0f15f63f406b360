"""Shared fixtures: tiny shifted data and tiny models, so every test trains in well under a second.

Torch and BLAS run single-threaded here: on small CPU quotas their thread pools
spin and make tiny L-BFGS, MLP or scikit-learn fits up to 100x slower, and
``pytest -n 2`` already uses every core.
"""

from __future__ import annotations

import os

# Before numpy, scipy and torch load their BLAS/OpenMP runtimes (scipy loads its own
# OpenBLAS lazily, which a later threadpool_limits call would miss).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.linalg  # noqa: E402,F401  # load scipy's BLAS now so the limit below covers it
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from graft.data import DataSource, from_arrays  # noqa: E402
from graft.models import DataInfo, GraftModel, ModelOptions, build_model  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)

N_CLASSES = 3
WIDTH = 6


def blobs(
    n_per_class: int = 30,
    *,
    n_classes: int = N_CLASSES,
    width: int = WIDTH,
    shift: float = 0.0,
    spread: float = 3.0,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class blobs ``(x float32 [N, width], y int64 [N])``.

    The class centres depend only on ``width`` and ``n_classes``, so two calls with
    different ``seed``/``shift`` describe the same task in two domains; ``shift``
    moves every example by the same offset (a covariate shift).
    """
    centres = np.random.default_rng(1234).normal(size=(n_classes, width)) * spread
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[y] + rng.normal(size=(len(y), width)) * noise + shift
    return x.astype(np.float32), y.astype(np.int64)


def table_source(name: str = "blobs", **kwargs: float) -> DataSource:
    """A DataSource of :func:`blobs`."""
    x, y = blobs(**kwargs)  # type: ignore[arg-type]
    return from_arrays(x, y, name=name)  # classes "0", "1", ... like the npz: file of the same blobs


def tiny_mlp(source: DataSource, hidden: tuple[int, ...] = (16, 16), seed: int = 0) -> GraftModel:
    """``builtin:mlp`` sized for ``source`` with small hidden layers, seeded init."""
    torch.manual_seed(seed)
    return build_model("builtin:mlp", DataInfo.from_source(source), ModelOptions(hidden=hidden, dropout=0.0))


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state, for before/after comparisons."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture(scope="session")
def blobs_source() -> DataSource:
    """Three well-separated classes, 30 rows each, 6 features."""
    return table_source()


@pytest.fixture(scope="session")
def shifted_source() -> DataSource:
    """The same task as ``blobs_source`` with other samples and a covariate shift."""
    return table_source("blobs-shifted", shift=1.5, seed=7)


@pytest.fixture(scope="session")
def blobs_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``blobs_source`` as an ``npz:`` file with arrays ``X`` and ``y``."""
    x, y = blobs()
    path = tmp_path_factory.mktemp("npz") / "blobs.npz"
    np.savez(path, X=x, y=y)
    return path


@pytest.fixture
def make_mlp() -> Callable[..., GraftModel]:
    """``make_mlp(source, hidden=(16, 16), seed=0)`` → a seeded tiny ``builtin:mlp``."""
    return tiny_mlp


@pytest.fixture
def make_blobs() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``make_blobs(n_per_class=30, shift=0.0, seed=0, ...)`` → ``(x, y)`` arrays."""
    return blobs


@pytest.fixture
def make_source() -> Callable[..., DataSource]:
    """``make_source(name, n_per_class=..., shift=..., seed=...)`` → a table DataSource."""
    return table_source


@pytest.fixture
def snapshot() -> Callable[[torch.nn.Module], dict[str, torch.Tensor]]:
    """``snapshot(module)`` → a detached copy of its state dict."""
    return state_copy


@pytest.fixture
def assert_no_temp_files() -> Callable[[Path], None]:
    """Check that no temp file of an atomic write is left under a folder."""

    def check(root: Path) -> None:
        assert [p for p in root.rglob("*") if p.name.endswith(".tmp")] == []

    return check


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, blobs_npz: Path) -> Path:
    """A finished ``scratch`` run of ``builtin:mlp`` on ``blobs_npz`` (shared; do not modify)."""
    import graft

    out = tmp_path_factory.mktemp("finished") / "run"
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, epochs=3, lr=1e-2, progress=False)
    return out


POSITIVE = ("good", "great", "fine", "nice", "happy", "lovely")
NEGATIVE = ("bad", "awful", "poor", "sad", "terrible", "ugly")
FILLER = ("the", "a", "movie", "was", "very", "food", "it", "is", "and", "so")


def sentiment_texts(n_per_class: int = 30, seed: int = 0, domain: str = "movie") -> tuple[list[str], np.ndarray]:
    """Short texts whose class is told by one or two sentiment words among filler words.

    ``domain`` is a word put in every text, so two domains share the task but differ in
    their inputs.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in enumerate((NEGATIVE, POSITIVE)):
        for _ in range(n_per_class):
            body = list(rng.choice(FILLER, size=rng.integers(2, 7))) + list(rng.choice(words, size=rng.integers(1, 3)))
            rng.shuffle(body)
            texts.append(" ".join([domain, *body]))
            labels.append(label)
    return texts, np.asarray(labels, dtype=np.int64)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 16-wide BERT with its WordPiece tokenizer, saved for ``hf:PATH``."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("hf") / "tiny-bert"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER, "book", "shop"]
    tokenizer = transformers.BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    tokenizer.save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def sentiment_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of :func:`sentiment_texts` in two domains: columns ``review``, ``label``, ``domain``."""
    import pandas as pd

    frames = []
    for domain, seed in (("movie", 0), ("book", 1)):
        texts, y = sentiment_texts(30, seed=seed, domain=domain)
        frames.append(pd.DataFrame({"review": texts, "label": np.where(y == 1, "pos", "neg"), "domain": domain}))
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture
def graft_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``graft_cli(*args) -> (exit_code, stdout, stderr)`` through the real entry point."""
    from graft.cli import app as cli

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            cli.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_user_error(code: int, out: str, err: str, *needles: str) -> str:
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def user_error() -> Callable[..., str]:
    """``user_error(code, out, err, *needles)``: exit 2, no traceback, ONE ``error:`` line holding every
    needle; returns that line."""
    return assert_user_error


@pytest.fixture
def fit_interrupted(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``fit_interrupted(*args, **kwargs)``: ``graft.fit`` stopped by a Ctrl-C after its second epoch,
    before the third is checkpointed."""
    import graft
    from graft.engine import trainer as trainer_module

    real_end_epoch = trainer_module.EpochProgress.end_epoch

    def ctrl_c_after_epoch_2(self: object, epoch: int, row: dict) -> None:
        if epoch == 2:
            raise KeyboardInterrupt
        real_end_epoch(self, epoch, row)  # type: ignore[arg-type]

    def run(*args: object, **kwargs: object) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(trainer_module.EpochProgress, "end_epoch", ctrl_c_after_epoch_2)
            with pytest.raises(KeyboardInterrupt):
                graft.fit(*args, **kwargs)  # type: ignore[arg-type]

    return run
