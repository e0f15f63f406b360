"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from graft.cli import app as cli


@pytest.fixture
def graft_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``graft_cli(*args) -> (exit_code, stdout, stderr)`` through the real entry point."""

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            cli.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
