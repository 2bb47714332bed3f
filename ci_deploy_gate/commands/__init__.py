"""The commands beside the gate itself, one module each, each with
`main(argv, environ) -> int` that raises GateError for what fails (`cli` says it).

Kept to this table: every run of the gate imports it to tell a command from an option.
"""

NAMES = ("check", "schema", "init", "migrate", "run")
# these take the gate's options, then `-- COMMAND...`, and report as the gate does:
# `main(options, argv, environ, output) -> int`, raising the gate's Stopped
GATED = ("run",)
VERBOSE_HELP = "on an internal error, print its traceback too"
