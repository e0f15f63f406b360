"""Tests of graft.engine."""
