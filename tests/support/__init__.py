"""Helpers the tests share (and the bench borrows): no fixtures here — conftest files define those from these."""
