#!/usr/bin/env python3
"""Prints each skipped test with its reason, one a line, for .ci/run's summary.

Usage: skipped.py RESULTS_DIR [UNITTEST_LOG]
RESULTS_DIR holds dotnet test's trx files (a skipped xUnit test is outcome="NotExecuted", its
reason in Output/ErrorInfo/Message); UNITTEST_LOG is the verbose log of python3 -m unittest, whose
skipped tests read "name (module.Class.name) ... skipped 'reason'". Standard library only.
"""

import pathlib
import re
import sys
import xml.etree.ElementTree as ET

TRX = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
UNITTEST_SKIP = re.compile(r"^(.*?) \.\.\. skipped '(.*)'$")
UNITTEST_NAME = re.compile(r"^\w+ \(([\w.]+)\)")


def trx_skipped(results_dir):
    for trx in sorted(pathlib.Path(results_dir).glob("**/*.trx")):
        try:
            root = ET.parse(trx).getroot()
        except ET.ParseError as error:
            yield (str(trx), f"(unreadable: {error})")
            continue
        for result in root.iter(TRX + "UnitTestResult"):
            if result.get("outcome") != "NotExecuted":
                continue
            message = result.find(f"{TRX}Output/{TRX}ErrorInfo/{TRX}Message")
            reason = (message.text or "").strip() if message is not None else ""
            yield (result.get("testName", "?"), reason or "(no reason given)")


def unittest_skipped(log):
    try:
        lines = pathlib.Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return
    for index, line in enumerate(lines):
        match = UNITTEST_SKIP.match(line)
        if not match:
            continue
        # With a docstring, -v prints "name (module.Class.name)" on the line before "docstring ... skipped".
        name = UNITTEST_NAME.match(match.group(1)) or (index > 0 and UNITTEST_NAME.match(lines[index - 1]))
        yield (name.group(1) if name else match.group(1), match.group(2))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    skipped = list(trx_skipped(argv[1]))
    if len(argv) > 2:
        skipped.extend(unittest_skipped(argv[2]))
    for name, reason in skipped:
        print(f"  {name}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
