"""Run llama.cpp's HTTP server (embedded in the ``xllamacpp`` wheel) until killed.

    python -m tests.selfhosted.llamacpp_server MODEL.gguf PORT [--threads N] [--ctx N]

Loopback only, the model's built-in ``gemma`` chat template (Jinja off: Gemma 3 270M is a base
model), a single slot. llama.cpp logs to stderr; the tests read that log (e.g. for cancelled
tasks).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main() -> int:
    """Start the server and wait for SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("port", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--template", default="gemma")
    args = parser.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.port = args.port
    params.hostnames = ["127.0.0.1"]
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.chat_template = args.template
    params.use_jinja = False
    params.warmup = False
    params.model_alias = {"gemma-3-270m"}
    server = xllamacpp.Server(params)
    print(f"llamacpp_server: listening on {server.listening_address}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
