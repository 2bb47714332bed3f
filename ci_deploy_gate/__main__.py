"""`python -m ci_deploy_gate` and `ci-deploy-gate`: the node guard, then the command line.

Under `parallelism: N` every node runs the deploy step. Nodes other than 0 leave here,
before argparse, yaml or requests are imported, at about the cost of interpreter start.
"""

from __future__ import annotations

import os
import sys

# Flags that cannot change which node this is. Anything else (--env-file, --set, --help,
# a typo) goes through argparse, which then runs the same guard on the final environment.
_SWITCHES = ("--json", "--dry-run", "--verbose", "--force", "--wait", "--wait-for-nodes")
_VALUED = ("--rules", "--report", "--api-url", "--wait-timeout", "--repo", "--now")


def _skip_options(argv: list[str]) -> tuple[bool, str | None] | None:
    """(--json, --report FILE) when argv is simple enough to skip without argparse."""
    as_json, report = False, None
    items = iter(argv)
    for item in items:
        name, equals, value = item.partition("=")
        if name in _SWITCHES and not equals:
            as_json = as_json or name == "--json"
        elif name in _VALUED:
            if not equals:
                value = next(items, "")
                if not value or value.startswith("-"):
                    return None
            if name == "--report":
                report = value
        else:
            return None
    return as_json, report


def _node_skip(argv: list[str]) -> int | None:
    if os.environ.get("CIRCLE_NODE_INDEX", "").strip() in ("", "0"):
        return None
    options = _skip_options(argv)
    if options is None:
        return None
    from ci_deploy_gate.errors import GateError
    from ci_deploy_gate.node import read_node

    try:
        node = read_node(os.environ)
    except GateError:
        return None  # the full path reports it properly
    if node.fires:
        return None
    from ci_deploy_gate.report import Output, conclude

    as_json, report = options
    output = Output(as_json=as_json, report_path=report, secrets=())
    problem = conclude(output, decision="skipped", reason=node.skip_reason(), node=node)
    if problem:
        output.note(f"ci-deploy-gate: error: {problem}")
        return 2
    return 0


def main() -> int:
    skipped = _node_skip(sys.argv[1:])
    if skipped is not None:
        return skipped
    from ci_deploy_gate.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
