#!/usr/bin/env python3
"""Prints where the test time went, for .ci/run's summary: per test project its wall time and the sum of its
tests' durations, then the slowest test classes with their case count and summed duration.

Usage: timings.py RESULTS_DIR [N]
RESULTS_DIR holds dotnet test's trx files (one per test project: Times/@start and @finish, and each
UnitTestResult's duration, its class in the UnitTest definition's TestMethod/@className); N is how many
classes to list (default 12). Standard library only.
"""

import collections
import datetime
import pathlib
import sys
import xml.etree.ElementTree as ET

TRX = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"


def seconds(duration):
    hours, minutes, rest = duration.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def instant(text):
    # 2026-12-07T14:18:06.0853661+00:00: Python's fromisoformat takes at most six fraction digits.
    head, _, tail = text.partition(".")
    digits = "".join(c for c in tail if c.isdigit())
    zone = tail[len(digits):]
    return datetime.datetime.fromisoformat(f"{head}.{digits[:6] or '0'}{zone}")


def main(results_dir, most):
    classes = collections.defaultdict(lambda: [0, 0.0])
    for trx in sorted(pathlib.Path(results_dir).glob("**/*.trx")):
        try:
            root = ET.parse(trx).getroot()
        except ET.ParseError as error:
            print(f"  {trx.name}: unreadable ({error})")
            continue
        names = {}
        storage = "?"
        for test in root.iter(TRX + "UnitTest"):
            method = test.find(TRX + "TestMethod")
            names[test.get("id")] = method.get("className", "?") if method is not None else "?"
            storage = pathlib.Path(test.get("storage", "?")).name or storage
        total = 0.0
        for result in root.iter(TRX + "UnitTestResult"):
            duration = seconds(result.get("duration", "0:0:0"))
            total += duration
            entry = classes[names.get(result.get("testId"), "?").rsplit(".", 1)[-1]]
            entry[0] += 1
            entry[1] += duration
        times = root.find(TRX + "Times")
        wall = (instant(times.get("finish")) - instant(times.get("start"))).total_seconds() if times is not None else 0
        print(f"  {storage}: {wall:.0f} s wall, {total:.0f} s of tests")
    print(f"  Slowest test classes (cases, summed duration):")
    for name, (count, total) in sorted(classes.items(), key=lambda item: -item[1][1])[:most]:
        print(f"    {total:6.1f} s {count:4} {name}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12)
