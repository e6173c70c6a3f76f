#!/usr/bin/env python3
"""Helper of scripts/autobahn: writes the fuzzing client's spec, and reduces wstest's report to
the per-case outcome, checks it against the project's policy and the committed expectation.

    compare.py spec TEMPLATE URL OUTDIR          print TEMPLATE with the server's URL and OUTDIR
    compare.py check REPORTDIR EXPECTED RESULTS  reduce REPORTDIR/index.json into RESULTS, compare
                                                 with EXPECTED; exit 1 on a difference or a
                                                 case outside the policy
    compare.py check ... --update                write EXPECTED from this run instead

The policy: a case passes when Autobahn calls it OK, NON-STRICT (a SHOULD not followed),
INFORMATIONAL or UNIMPLEMENTED. The only other outcome allowed is a message over the broker's
1 MiB limit (http::limits) that the server refuses with close code 1009 (message too big); and
every such case must be refused, or the limit is not enforced.
"""

import json
import re
import sys

# Autobahn's verdicts that count as conformant.
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED")

# The cases whose message is over 1 MiB (1048576 bytes): 9.1.4-6 and 9.2.4-6 send one text or
# binary message of 4, 8 or 16 MiB; 9.3.* and 9.4.* send a 4 MiB text or binary message in
# fragments of 64 bytes to 4 MiB. (9.1.3, 9.2.3, 9.5.* and 9.6.* send exactly 1 MiB, which is
# within the limit, and must be echoed.)
OVER_LIMIT = re.compile(r"^9\.(1\.[456]|2\.[456]|3\.\d+|4\.\d+)$")
TOO_BIG = 1009

# The fields kept per case; duration and the report's file name change from run to run.
FIELDS = ("behavior", "behaviorClose", "remoteCloseCode")


def case_key(case_id):
    """Sorts "1.1.10" after "1.1.9"."""
    return tuple(int(part) for part in case_id.split("."))


def spec(template, url, outdir):
    with open(template) as f:
        data = json.load(f)
    for server in data["servers"]:
        server["url"] = url
    data["outdir"] = outdir
    json.dump(data, sys.stdout, indent=2)
    print()


def reduce_report(report_dir):
    """{case id: {behavior, behaviorClose, remoteCloseCode}} from wstest's index.json, which
    holds one agent (the spec names one server). index.json copies these three fields from the
    per-case reports (<agent>_case_<id>.json, checked equal on a real run), so it is enough."""
    with open(f"{report_dir}/index.json") as f:
        index = json.load(f)
    if len(index) != 1:
        sys.exit(f"autobahn: expected one agent in {report_dir}/index.json, found {sorted(index)}")
    (cases,) = index.values()
    return {case: {field: cases[case][field] for field in FIELDS} for case in sorted(cases, key=case_key)}


def dump(results, path):
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


def policy(results):
    """Counts the outcomes; returns (summary line, list of cases outside the policy)."""
    counts = {verdict: 0 for verdict in PASSING}
    refused, unexpected = 0, []
    for case, r in results.items():
        over = OVER_LIMIT.match(case) is not None
        if over and r["remoteCloseCode"] == TOO_BIG and r["behavior"] not in PASSING:
            refused += 1
        elif over:
            unexpected.append((case, r, "over the 1 MiB limit, not refused with 1009"))
        elif r["behavior"] in PASSING:
            counts[r["behavior"]] += 1
        else:
            unexpected.append((case, r, "not conformant"))
    parts = [f"{len(results)} cases"]
    parts += [f"{n} {verdict}" for verdict, n in counts.items() if n or verdict in ("OK", "NON-STRICT")]
    parts += [f"{refused} over the 1 MiB limit closed with 1009", f"{len(unexpected)} unexpected"]
    return "autobahn: " + ", ".join(parts), unexpected


def check(report_dir, expected_path, results_path, update):
    results = reduce_report(report_dir)
    dump(results, results_path)
    summary, unexpected = policy(results)
    for case, r, why in unexpected:
        print(f"  outside the policy: {case}: {why}: {json.dumps(r)}")
    print(summary)
    if update:
        dump(results, expected_path)
        print(f"autobahn: wrote {expected_path} ({len(results)} cases)")
        return 1 if unexpected else 0

    try:
        with open(expected_path) as f:
            expected = json.load(f)
    except FileNotFoundError:
        print(f"autobahn: no {expected_path}; run scripts/autobahn --update to write it")
        return 1
    diffs = []
    for case in sorted(set(expected) | set(results), key=case_key):
        want, got = expected.get(case), results.get(case)
        if want != got:
            diffs.append((case, want, got))
    if diffs:
        print(f"autobahn: {len(diffs)} of {len(results)} cases differ from {expected_path}:")
        print(f"  {'case':<8} {'expected':<45} actual")
        for case, want, got in diffs:
            show = lambda r: "(missing)" if r is None else " / ".join(str(r[k]) for k in FIELDS)
            print(f"  {case:<8} {show(want):<45} {show(got)}")
    else:
        print(f"autobahn: matches {expected_path}")
    return 1 if diffs or unexpected else 0


def main(argv):
    if len(argv) == 4 and argv[0] == "spec":
        spec(*argv[1:])
        return 0
    if len(argv) in (4, 5) and argv[0] == "check" and argv[4:] in ([], ["--update"]):
        return check(argv[1], argv[2], argv[3], update=len(argv) == 5)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
