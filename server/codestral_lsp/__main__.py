"""``python -m codestral_lsp``: the same command line as ``codestral-lsp``."""

from codestral_lsp.cli import main

raise SystemExit(main())
