"""`schema`: the rules file's JSON Schema, for editors."""

from __future__ import annotations

import argparse
import sys

from ci_deploy_gate.commands import VERBOSE_HELP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def schema_text() -> str:
    """The schema generated from the rules file's one description (`rules.RULES_FILE`)."""
    import json

    from ci_deploy_gate.rules import schema

    return json.dumps(schema(), indent=2) + "\n"


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate schema",
        description="Print the JSON Schema of the rules file, for editors.",
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    parser.parse_args(argv)
    sys.stdout.write(schema_text())
    return 0
