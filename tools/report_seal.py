#!/usr/bin/env python3
"""Re-check the seal of rollproof proof reports without rollproof.

The seal is the lowercase hex SHA-256 of the report's canonical JSON (every
object's keys sorted, no whitespace) with the "seal" key removed; the file
itself must be that same sorted structure pretty-printed with two-space
indentation and a trailing newline (docs/REPORT.md). Standard library only.

Usage:
    python3 tools/report_seal.py REPORT.json...

Prints "REPORT: OK <seal>" or "REPORT: FAILED (<reason>)" per report; exits
0 when every seal holds, 1 when any does not, 2 when a file cannot be read.
"""

import hashlib
import json
import sys


def canonical(value, **kw):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, **kw)


def check(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        report = json.loads(raw)
    except ValueError as e:
        return "not JSON: %s" % e
    if not isinstance(report, dict) or not isinstance(report.get("seal"), str):
        return "no seal"
    seal = report.pop("seal")
    computed = hashlib.sha256(canonical(report, separators=(",", ":")).encode()).hexdigest()
    if computed != seal:
        return "seal %s does not match the content (computed %s)" % (seal, computed)
    report["seal"] = seal
    pretty = canonical(report, indent=2, separators=(",", ": ")) + "\n"
    if pretty.encode() != raw:
        return "the file is not the canonical rendering of its content"
    return None


def main(argv):
    if not argv or any(a.startswith("-") for a in argv):
        print("usage: report_seal.py REPORT.json...", file=sys.stderr)
        return 2
    failed = False
    for path in argv:
        try:
            problem = check(path)
        except OSError as e:
            print("report_seal.py: cannot read %s: %s" % (path, e), file=sys.stderr)
            return 2
        if problem:
            failed = True
            print("%s: FAILED (%s)" % (path, problem))
        else:
            with open(path, "rb") as f:
                print("%s: OK %s" % (path, json.loads(f.read())["seal"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
