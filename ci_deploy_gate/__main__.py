"""`python -m ci_deploy_gate` and `ci-deploy-gate`: the node guard, then the command line.

Under `parallelism: N` every node runs the deploy step. Nodes other than 0 leave here,
before argparse, yaml or requests are imported, at about the cost of interpreter start.
"""

from __future__ import annotations

import os
import sys


def _node_skip(argv: list[str]) -> int | None:
    """The exit code of a node other than 0 that skips, or None to run the command line."""
    if os.environ.get("CIRCLE_NODE_INDEX", "").strip() in ("", "0"):
        return None
    from ci_deploy_gate.options import quick_read

    options = quick_read(argv)
    if options is None or options.env_files or options.assignments:
        return None  # argparse has its say, or --env-file/--set may name another node
    from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_OK, GateError
    from ci_deploy_gate.node import read_node

    try:
        node = read_node(os.environ)
    except GateError:
        return None  # the full path reports it properly
    if node.fires:
        return None
    from ci_deploy_gate.report import Output, conclude

    output = Output(as_json=options.json, report_path=options.report, secrets=())
    problem = conclude(output, decision="skipped", reason=node.skip_reason(), node=node)
    if problem:
        output.note(f"ci-deploy-gate: error: {problem}")
        return EXIT_CONFIG
    return EXIT_OK


def main() -> int:
    skipped = _node_skip(sys.argv[1:])
    if skipped is not None:
        return skipped
    from ci_deploy_gate.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
