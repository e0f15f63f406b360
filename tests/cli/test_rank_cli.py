"""``graft rank`` on the command line: the ranked table, its files, one-line errors."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_user_error


def test_rank_prints_the_ranked_table_and_writes_its_files(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          blobs_npz: Path, finished_run: Path) -> None:
    zoo = tmp_path / "zoo.txt"
    zoo.write_text(f"builtin:mlp?mlp_width=4\nrun:{finished_run}\n")
    code, out, err = graft_cli("-q", "rank", "-m", "builtin:mlp?mlp_width=8", "--models-file", zoo, "-d",
                               f"npz:{blobs_npz}", "--scores", "logme,leep,knn", "--out", tmp_path / "r")
    assert code == 0, err
    assert "Ranking on" in out and "builtin:mlp?mlp_width=8" in out and "Consensus (mean rank):" in out
    assert "Winner per score: logme" in out and "leep → run:" in out
    assert "n/a: the model has no source head" in out
    assert "rank 1/3" not in err  # --quiet
    for name in ("rank.csv", "rank.md", "plots/rank.png"):
        assert (tmp_path / "r" / name).exists()


def test_rank_mistakes_exit_2_with_one_line(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    data = f"npz:{blobs_npz}"
    assert_user_error(*graft_cli("rank", "-m", "builtin:mlp", "-d", data, "--scores", "hscor", "--out", tmp_path),
                    "Unknown transferability score 'hscor'", "Did you mean 'hscore'?")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# none\n")
    assert_user_error(*graft_cli("rank", "--models-file", empty, "-d", data, "--out", tmp_path), "names no model")
    assert_user_error(*graft_cli("rank", "-m", "builtin:mlp", "-d", data, "-k", "1", "--scores", "gbc",
                               "--out", tmp_path), "'gbc' needs at least 2 examples", "--labels-per-class")
    # An image model among table models: the data's kind decides, and the message says which model differs.
    assert_user_error(*graft_cli("rank", "-m", "builtin:mlp", "-m", "builtin:lenet", "-d", data, "--out", tmp_path),
                    "builtin:lenet", "image", "table")
    assert_user_error(*graft_cli("rank", "-m", "builtin:mlp", "-d", data, "--epochs", "3", "--out", tmp_path),
                    "--verify")
