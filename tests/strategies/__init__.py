"""Tests of graft.strategies."""
