"""Benchmarks of codestral-lsp: ``python -m bench`` (see BENCHMARKS.md)."""
