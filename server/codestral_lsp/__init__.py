"""codestral-lsp: a language server that brings Mistral's Codestral to every LSP editor."""

__version__ = "0.1.0"
