#!/usr/bin/env python3
"""Regenerates the markdown report and the SVG chart from a results JSON, without measuring:

    python3 bench/report.py [bench/results/latest.json [docs/BENCHMARKS.md [docs/benchmarks.svg]]]

The code is bench/harness/report.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
