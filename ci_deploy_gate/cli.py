"""The command line: read the arguments once, run the gate or a command, and turn what
goes wrong into one line and an exit code, here and nowhere else."""

from __future__ import annotations

import os
import sys

from ci_deploy_gate import __version__
from ci_deploy_gate.commands import GATED
from ci_deploy_gate.commands import NAMES as COMMANDS
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, secret_values
from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_INTERNAL, GateError
from ci_deploy_gate.options import OPTIONS, REPEATED, SWITCH, BadValue, Options, quick_read
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.report import Output

TYPE_CHECKING = False  # not `from typing`: every run of the gate imports this module
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

HELP = frozenset(("-h", "--help", "--version"))  # they need no command after `--`
DESCRIPTION = (
    "Decide from a reviewed rules file whether this CircleCI build fires its "
    "deploy job, pinned to CIRCLE_SHA1. Only node 0 of a parallel job fires."
)
EPILOG = (
    "other commands: check (validate the rules against .circleci/config.yml), "
    "schema (the rules file's JSON Schema), init (a starter rules file), migrate (a "
    "config firing jobs through API v1.1 moved to v2), "
    "run (run a command in this job instead of firing a deploy); "
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
        if words[0] in GATED:
            return gated(command, words[1:], env, secrets)
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


def gated(command: Any, words: Sequence[str], env: Mapping[str, str], secrets: list[str]) -> int:
    """A command that takes the gate's options, then `--` and the words of its own command
    (run): its options read as the gate's, its report written as the gate's."""
    before, after = split_command(words)
    if not after and not HELP.intersection(before):
        output = Output(as_json=False, report_path=None, secrets=secrets)
        problem = command.NO_DASHES if after is None else command.NO_COMMAND
        output.note(f"{command.PROG}: error: {problem}")
        return EXIT_CONFIG
    texts = Texts(command.PROG, command.DESCRIPTION, command.EPILOG, command.USAGE)
    options = read_options(before, texts)
    output = Output(as_json=options.json, report_path=options.report, secrets=secrets)
    return handled(
        lambda: int(command.main(options, after, env, output)),
        output,
        prog=command.PROG,
        verbose=options.verbose,
    )


def split_command(words: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """The options before the first `--`, and every word after it (None: no `--`)."""
    if "--" not in words:
        return list(words), None
    at = list(words).index("--")
    return list(words[:at]), list(words[at + 1 :])


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


class Texts(NamedTuple):
    """What --help says of the gate, or of a command that takes its options."""

    prog: str = "ci-deploy-gate"
    description: str = DESCRIPTION
    epilog: str = EPILOG
    usage: str | None = None  # None: argparse's, from the options


GATE_TEXTS = Texts()


def read_options(words: Sequence[str], texts: Texts = GATE_TEXTS) -> Options:
    """The quick reader for a plain invocation; argparse for anything else (--help,
    --version, a usage error, which it reports and exits 2)."""
    quick = quick_read(words)
    return parse_options(words, texts) if quick is None else quick


def parse_options(words: Sequence[str], texts: Texts = GATE_TEXTS) -> Options:
    found = vars(parser(texts).parse_args(words))
    values: dict[str, Any] = {
        option.dest: tuple(found[option.dest]) if option.kind == REPEATED else found[option.dest]
        for option in OPTIONS
    }
    return Options(**values)


def parser(texts: Texts = GATE_TEXTS) -> argparse.ArgumentParser:
    """argparse, built from the option table."""
    import argparse

    def argparse_type(convert: Callable[[str], object]) -> Callable[[str], object]:
        def checked(value: str) -> object:
            try:
                return convert(value)
            except BadValue as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        return checked

    built = argparse.ArgumentParser(
        prog=texts.prog, description=texts.description, epilog=texts.epilog, usage=texts.usage
    )
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
