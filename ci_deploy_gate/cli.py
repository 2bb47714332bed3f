"""The command line: read the arguments once, run the gate or a command, and turn what
goes wrong into one line and an exit code, here and nowhere else."""

from __future__ import annotations

import os
import sys

from ci_deploy_gate import __version__
from ci_deploy_gate.commands import NAMES as COMMANDS
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, secret_values
from ci_deploy_gate.errors import EXIT_INTERNAL, GateError
from ci_deploy_gate.options import OPTIONS, REPEATED, SWITCH, BadValue, Options, quick_read
from ci_deploy_gate.report import Output

TYPE_CHECKING = False  # not `from typing`: every run of the gate imports this module
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

DESCRIPTION = (
    "Decide from a reviewed rules file whether this CircleCI build fires its "
    "deploy job, pinned to CIRCLE_SHA1. Only node 0 of a parallel job fires."
)
EPILOG = (
    "other commands: check (validate the rules against .circleci/config.yml), "
    "schema (the rules file's JSON Schema), init (a starter rules file), migrate (a "
    "config firing jobs through API v1.1 moved to v2); "
    "see ci-deploy-gate COMMAND --help. "
    "exit codes: 0 fired, already triggered, skipped or dry-run; 1 CircleCI refused "
    "or unreachable, or (--wait, --wait-for-nodes) the deploy or another node failed; "
    "2 usage, rules-file or environment error; 3 an internal error"
)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    secrets = secret_values(env, DEFAULT_TOKEN_ENV)
    if words and words[0] in COMMANDS:
        from importlib import import_module

        command = import_module(f"ci_deploy_gate.commands.{words[0]}")
        output = Output(as_json=False, report_path=None, secrets=secrets)
        return handled(
            lambda: int(command.main(words[1:], env)),
            output,
            prog=f"ci-deploy-gate {words[0]}",
            verbose="--verbose" in words[1:],
        )
    options = read_options(words)
    output = Output(as_json=options.json, report_path=options.report, secrets=secrets)
    from ci_deploy_gate.gate import run

    return handled(
        lambda: run(options, env, output), output, prog="ci-deploy-gate", verbose=options.verbose
    )


def handled(run: Callable[[], int], output: Output, *, prog: str, verbose: bool) -> int:
    """The one place an error becomes its line on stderr and its exit code. A GateError is
    its own message (and the gate's report of what was decided before it); anything else
    is one redacted line, exit 3, with the traceback only under --verbose."""
    from ci_deploy_gate.gate import Stopped

    try:
        return run()
    except GateError as exc:
        problem = exc.so_far.write(output, exc) if isinstance(exc, Stopped) else None
        output.note(f"{prog}: {exc.decision}: {exc}")
        if problem:
            output.note(f"{prog}: error: {problem}")
        return exc.exit_code
    except Exception as exc:  # not SystemExit or KeyboardInterrupt: those are BaseExceptions
        if verbose:
            import traceback

            output.note(traceback.format_exc().rstrip("\n"))
        said = " ".join(str(exc).split())  # one line, whatever the exception holds
        hint = "" if verbose else " (run with --verbose for the traceback)"
        output.note(
            f"{prog}: internal error: {type(exc).__name__}{': ' if said else ''}{said}{hint}"
        )
        return EXIT_INTERNAL


def read_options(words: Sequence[str]) -> Options:
    """The quick reader for a plain invocation; argparse for anything else (--help,
    --version, a usage error, which it reports and exits 2)."""
    quick = quick_read(words)
    return parse_options(words) if quick is None else quick


def parse_options(words: Sequence[str]) -> Options:
    found = vars(parser().parse_args(words))
    values: dict[str, Any] = {
        option.dest: tuple(found[option.dest]) if option.kind == REPEATED else found[option.dest]
        for option in OPTIONS
    }
    return Options(**values)


def parser() -> argparse.ArgumentParser:
    """argparse, built from the option table."""
    import argparse

    def argparse_type(convert: Callable[[str], object]) -> Callable[[str], object]:
        def checked(value: str) -> object:
            try:
                return convert(value)
            except BadValue as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        return checked

    built = argparse.ArgumentParser(prog="ci-deploy-gate", description=DESCRIPTION, epilog=EPILOG)
    for option in OPTIONS:
        if option.kind == SWITCH:
            built.add_argument(option.flag, dest=option.dest, action="store_true", help=option.help)
            continue
        converter: dict[str, Any] = (
            {"type": argparse_type(option.convert)} if option.convert else {}
        )
        built.add_argument(
            option.flag,
            dest=option.dest,
            metavar=option.metavar,
            help=option.help,
            action="append" if option.kind == REPEATED else "store",
            default=[] if option.kind == REPEATED else option.default,
            **converter,
        )
    built.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return built
