"""The real-server tier: llama.cpp's HTTP server (from the ``xllamacpp`` wheel) with a tiny model."""
