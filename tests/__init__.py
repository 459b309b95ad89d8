"""Test suite for codestral-lsp (a package, so tests import ``tests.editor`` and each other)."""
