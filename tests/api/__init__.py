"""Tests of graft.api."""
