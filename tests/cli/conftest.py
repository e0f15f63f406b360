"""Fixtures of the command-line tests (``graft_cli`` is shared by every test folder: tests/conftest.py)."""
