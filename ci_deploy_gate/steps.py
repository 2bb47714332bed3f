"""`run`'s commands: one `Step` per matched rule, the rule in its environment, run as a
child process with SIGTERM and SIGINT passed on to it, and how each one ended."""

from __future__ import annotations

from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False  # not `from typing`: the node-1 and no-match paths import the records
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

RULE_VARIABLE = "DEPLOY_GATE_RULE"
JOB_VARIABLE = "DEPLOY_GATE_JOB"
SHA_VARIABLE = "DEPLOY_GATE_SHA"
EXIT_NOT_FOUND = 127  # what a shell exits with when the command is not there
EXIT_CANNOT_EXECUTE = 126  # ... and when it is there but cannot be run


class Step(NamedTuple):
    """One command for one matched rule; `exit_code`, `seconds` and `how` once it ran."""

    rule: str
    argv: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]  # DEPLOY_GATE_*, laid over the environment
    exit_code: int | None = None  # 128+N when signal N ended it, as a shell says
    seconds: float | None = None
    how: str | None = None  # "exited 0", "ended by SIGTERM (exit 143)", "cannot run it: ..."

    @property
    def said(self) -> str:
        """How it ended, in one line: what `run` says of a command that failed."""
        return f"rule {self.rule!r}: {self.shown}: {self.how}"

    @property
    def shown(self) -> str:
        """The command as a shell would take it back."""
        import shlex

        return " ".join(shlex.quote(word) for word in self.argv)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "argv": list(self.argv),
            "exit_code": self.exit_code,
            "seconds": self.seconds,
        }


def plan(rule: str, job: str | None, sha: str, argv: Sequence[str]) -> Step:
    """The step for a matched rule: DEPLOY_GATE_JOB only when the rule names a job."""
    variables = [(RULE_VARIABLE, rule), (JOB_VARIABLE, job or ""), (SHA_VARIABLE, sha)]
    return Step(rule, tuple(argv), tuple((name, value) for name, value in variables if value))


def run_step(step: Step, environ: Mapping[str, str], *, stdout_to_stderr: bool) -> Step:
    """The step run to its end, its output passed through (stdout to stderr when stdout
    carries the JSON report); a command that cannot be started ends as a shell's would,
    127 when it is not there and 126 otherwise."""
    import time

    started = time.monotonic()
    try:
        code = _run(step.argv, {**environ, **dict(step.variables)}, stdout_to_stderr)
    except OSError as exc:
        return step._replace(
            exit_code=_start_failure_code(exc), seconds=0.0, how=_start_failure(step, exc)
        )
    seconds = round(time.monotonic() - started, 3)
    if code < 0:
        return step._replace(exit_code=128 - code, seconds=seconds, how=_ended_by(-code))
    return step._replace(exit_code=code, seconds=seconds, how=f"exited {code}")


def _run(argv: Sequence[str], environ: Mapping[str, str], stdout_to_stderr: bool) -> int:
    """The child's return code. SIGTERM and SIGINT sent to the gate while it runs go to it
    (one that comes before it has started, as soon as it has), and the gate waits for its
    end: a cancelled job's deploy script gets to clean up, and its status is the gate's."""
    import signal
    import subprocess

    child: list[subprocess.Popen[bytes]] = []
    early: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if child:
            child[0].send_signal(signum)
        else:
            early.append(signum)

    previous = {
        sig: signal.signal(sig, forward)
        for sig in (signal.SIGTERM, signal.SIGINT)
        if signal.getsignal(sig) is not signal.SIG_IGN  # ignored: the child inherits that
    }
    try:
        child.append(
            subprocess.Popen(list(argv), env=dict(environ), stdout=2 if stdout_to_stderr else None)
        )
        for signum in early:
            child[0].send_signal(signum)
        return child[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _start_failure_code(exc: OSError) -> int:
    return EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_CANNOT_EXECUTE


def _start_failure(step: Step, exc: OSError) -> str:
    import errno

    if isinstance(exc, FileNotFoundError) and "/" not in step.argv[0]:
        return "command not found (not on PATH)"
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOEXEC:
        reason += " (a script needs a #! line)"
    return f"cannot run it: {reason}"


def _ended_by(signum: int) -> str:
    import signal

    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"ended by {name} (exit {128 + signum})"
