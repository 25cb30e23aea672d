#!/usr/bin/env python3
"""Entry point of the benchmark harness (bench/harness/, one module a job; see bench/README.md).
bench/run.sh installs the tools, builds, raises limits and then runs this."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.common import BenchError  # noqa: E402
from harness.main import main  # noqa: E402

if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        print(f"bench: interrupted ({e}); servers stopped", file=sys.stderr)
        sys.exit(130)
