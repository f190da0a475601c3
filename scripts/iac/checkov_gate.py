#!/usr/bin/env python3
"""checkov over a Terraform tree with our policies (deploy/terraform/policies/*.yaml) and the
built-in checks listed below, once over the whole directory (checkov is slow to start).

    checkov_gate.py TF_DIR POLICIES_DIR

Runs checkov's own command line in-process (`--skip-download --framework terraform`), then
fails also where the command line would not:
- a file checkov could not parse (it exits 0 on those);
- a policy file of ours that checkov did not load (a typo would skip it);
- a resource one of our policies could not evaluate: checkov drops such resources from its
  report ("unknown", e.g. an expression it cannot render), which would pass silently.
Runs in the checkov venv (scripts/iac/ensure-iac-tools.sh).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

# Built-in checks that hold for sane code of ours: IAM least privilege, SQS/S3 encryption and
# public access, Lambda secrets and exposure, log retention, Step Functions logging.
BUILTIN_CHECKS = [
    # IAM
    "CKV_AWS_1", "CKV_AWS_49", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_60", "CKV_AWS_61",
    "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111",
    "CKV_AWS_274", "CKV_AWS_283", "CKV_AWS_356", "CKV2_AWS_40",
    # SQS
    "CKV_AWS_27", "CKV_AWS_168",
    # S3
    "CKV_AWS_19", "CKV_AWS_20", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_57",
    "CKV_AWS_93", "CKV2_AWS_6", "CKV2_AWS_65",
    # Lambda, logs, Step Functions, provider
    "CKV_AWS_45", "CKV_AWS_301", "CKV_AWS_363", "CKV_AWS_364", "CKV_AWS_66", "CKV_AWS_285", "CKV_AWS_41",
]

# An unknown verdict we accept: the policy attribute is the JSON of a policy document, which
# CKV2_EDALAB_4 checks on the document itself.
DOCUMENT_REF = re.compile(r"^\$?\{?data\.aws_iam_policy_document\.[\w-]+(\[[^\]]*\])?\.json\}?$")
ACCEPTED_UNKNOWN = {
    "CKV2_EDALAB_5": lambda v: any(
        isinstance(v.get(a), str) and DOCUMENT_REF.match(v[a]) for a in ("policy", "inline_policy.policy")
    ),
}


def our_policies(policies_dir: Path) -> dict[str, Path]:
    ids = {}
    for f in sorted(policies_dir.glob("*.y*ml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        pid = (doc or {}).get("metadata", {}).get("id")
        if not pid:
            print(f"{f}: no metadata.id")
            ids[f"<{f.name}>"] = f
        else:
            ids[pid] = f
    return ids


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.reconfigure(line_buffering=True)
    tf_dir, policies_dir = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    ours = our_policies(policies_dir)
    if not ours:
        print(f"checkov: no policy in {policies_dir}")
        return 1

    # No platform, no telemetry, no version check: the registries are all we reach.
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")
    os.environ.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    os.environ.setdefault("ANSI_COLORS_DISABLED", "1")
    from checkov.main import Checkov

    argv = [
        "--skip-download",
        "--framework", "terraform",
        "--directory", str(tf_dir),
        "--external-checks-dir", str(policies_dir),
        "--check", ",".join(sorted(ours) + BUILTIN_CHECKS),
        "--compact",
        "--quiet",  # failed checks only
        "--skip-results-upload",
    ]
    print(f"checkov {' '.join(argv)}")
    ck = Checkov(argv=argv)
    rc = ck.run() or 0
    failed = rc != 0

    reports = [r for r in ck.scan_reports if r.check_type == "terraform"]
    parsed = sum(r.resources and len(r.resources) or 0 for r in reports)
    for r in reports:
        for f in r.parsing_errors:
            print(f"checkov: {f}: checkov could not parse this file (its checks did not run on it)")
            failed = True
    if parsed == 0:
        print(f"checkov: no Terraform resource found in {tf_dir}")
        failed = True

    runner = next((r for r in ck.runners if getattr(r, "check_type", None) == "terraform"), None)
    loaded = {c.id: c for c in runner.graph_registry.checks} if runner else {}
    for pid, f in ours.items():
        if pid not in loaded:
            print(f"checkov: {f}: policy {pid} was not loaded by checkov")
            failed = True
    counts = []
    for pid in sorted(ours):
        check = loaded.get(pid)
        if check is None:
            continue
        n_pass = n_fail = 0
        for graph, _ in runner.all_graphs:
            passed, fails, unknown = check.run(graph)
            n_pass += len(passed)
            n_fail += len(fails)
            for v in unknown:
                if ACCEPTED_UNKNOWN.get(pid, lambda _: False)(v):
                    continue
                addr = v.get("__address__") or v.get("block_name_")
                print(f"checkov: {v.get('file_path_')}:{v.get('__start_line__', 1)}: {pid} could not evaluate {addr} "
                      "(it depends on an expression checkov does not render: a variable without a value, "
                      "a conditional inside merge(), ...): make the attributes the policy reads statically known")
                failed = True
        counts.append(f"{pid} {n_pass} passed, {n_fail} failed")
    print("checkov: " + "; ".join(counts))
    print(f"checkov: {'FAILED' if failed else 'ok'} ({len(ours)} policies of ours, {len(BUILTIN_CHECKS)} built-in checks, {parsed} resources)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
