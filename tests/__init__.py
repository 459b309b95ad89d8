"""Test suite for codestral-lsp (also makes ``python -m tests.fake_codestral`` work)."""
