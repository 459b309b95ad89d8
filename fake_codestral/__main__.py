"""Run the fake Codestral by hand: ``python -m fake_codestral --port 8787``.

Then point an editor at it, with no key needed::

    CODESTRAL_BASE_URL=http://127.0.0.1:8787/v1 codestral-lsp
"""

from __future__ import annotations

import argparse
import threading

from fake_codestral.server import FakeCodestral


def main() -> None:
    """Serve until interrupted, printing each request as it arrives."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=None, help="answer 401 unless this key is sent")
    args = parser.parse_args()
    fake = FakeCodestral(args.host, args.port, api_key=args.api_key).start()
    print(f"fake Codestral on {fake.base_url} (Ctrl+C stops it)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
