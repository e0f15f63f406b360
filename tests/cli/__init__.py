"""Tests of graft.cli."""
