"""Git facts, read with GitPython from the checkout the job runs in: the commit's message
and e-mails, the changed range's messages and paths, and the local dry-run's CIRCLE_*.

Every git call of the gate is here. GitPython is imported only when a verdict needs a git
fact (`LazyGit` reads each on first use) or a local dry-run needs the checkout: a rules
file without them never loads it.
"""

from __future__ import annotations

import contextlib
import os
import re

from ci_deploy_gate.context import EXAMPLES, ChangeRange, PathAnswer, PathQuery
from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Set
    from typing import Any

# The empty tree: what a root commit is compared with, so all its paths count as changed.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# The remote's default branch, most telling first. CircleCI's checkout fetches only the
# branch it builds, so origin/HEAD is often missing there.
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master")
_CHUNK = 1 << 16
_USERINFO = re.compile(r"(?<=://)[^@/]+@")  # https://user:token@host/...: never kept
# `HEAD`, `HEAD~2`, `HEAD^2`, `@^`: in changed_base these start from CIRCLE_SHA1, not from
# the checkout's HEAD, which a step that merges upstream before the gate moves on.
# `HEAD@{1}` (the reflog) is not of that form and stays the checkout's.
_HEAD = re.compile(r"^(?:HEAD|@)(?=$|[~^])")


def _import_git() -> Any:
    """GitPython, or ConfigError: it refuses to load without a git executable."""
    try:
        import git
    except ImportError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"git: cannot run git ({first}); install git, or drop the git facts "
            "(message, author, committer, messages, changed) from the rules"
        ) from None
    return git


def open_repo(path: str) -> Any:
    """The git.Repo holding `path`; ConfigError when git or the repository is missing."""
    git = _import_git()
    try:
        return git.Repo(path, search_parent_directories=True)
    except git.NoSuchPathError:
        raise ConfigError(f"--repo {path}: no such folder") from None
    except git.InvalidGitRepositoryError:
        raise ConfigError(
            f"git: {os.path.abspath(path)} is not in a git repository (git facts and the local "
            "dry-run read the checkout: run in it, or pass --repo PATH)"
        ) from None


def _shallow(repo: Any) -> bool:
    return os.path.exists(os.path.join(repo.git_dir, "shallow"))


_SHALLOW_HINT = (
    "this clone is shallow, the usual cause: fetch the history first, e.g. "
    "`git fetch --unshallow` (or a deeper --depth) before the gate runs"
)


def _missing(repo: Any, what: str, fix: str) -> ConfigError:
    hint = _SHALLOW_HINT if _shallow(repo) else fix
    return ConfigError(f"git: {what} in {repo.working_dir} ({hint})")


def _resolve(repo: Any, revision: str) -> str | None:
    """The commit `revision` names, by git itself: GitPython's own rev_parse reads a
    parent from the raw commit even where a shallow clone has not fetched it."""
    import git

    try:
        found = repo.git.rev_parse(
            "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
    except git.GitCommandError:
        return None
    return str(found).strip() or None


@contextlib.contextmanager
def _git_failures() -> Iterator[None]:
    """A git command that fails where none should (a broken repository, a permission) is
    one `git:` line and exit 2, like every other error, not a GitPython traceback."""
    git = _import_git()
    try:
        yield
    except git.GitCommandError as exc:
        said = _text(exc.stderr or "").removeprefix("stderr: ").strip("'\n ")
        said = "; ".join(line.strip() for line in said.splitlines() if line.strip())
        command = " ".join(str(part) for part in exc.command)
        raise ConfigError(f"git: `{command}` failed: {said or exc.status}") from None


class LazyGit:
    """The git facts of CIRCLE_SHA1, each read when the evaluation first asks for it and
    kept: a fact no verdict needs is never read, and a rules file whose git facts are all
    short-circuited never opens the repository nor imports GitPython. A base's diff is read
    once, answering every `changed` condition of that base in the one pass."""

    def __init__(
        self, repo_path: str, sha: str | None, queries: Mapping[str | None, Set[PathQuery]]
    ) -> None:
        self._path = repo_path
        self._sha = sha
        self._queries = queries  # by changed_base as written; None: the default
        self._commit: Any = None
        self._bases: dict[str | None, tuple[str, str]] = {}
        self._changed: dict[str | None, ChangeRange] = {}
        self._messages: dict[str | None, tuple[str, ...]] = {}
        self.read: dict[str, str] = {}  # fact -> where it came from, once read

    def commit_fact(self, name: str) -> str:
        """`message`, `author` or `committer` of the commit."""
        with _git_failures():
            found = _commit_fact(self._the_commit(), name)
        self.read[name] = f"git: the commit {self._sha}"
        return found

    def changed(self, base: str | None) -> ChangeRange:
        """What changed in base..CIRCLE_SHA1, as the answers to every `changed` of `base`."""
        if base not in self._changed:
            with _git_failures():
                repo, commit = self._repo_and_commit()
                start, how = self._base_of(base)
                queries = self._queries.get(base, frozenset())
                total, answers = answer_paths(_changed_paths(repo, start, commit.hexsha), queries)
            self._changed[base] = ChangeRange(start, how, total, answers)
            self.read["changed"] = _RANGE_SOURCE
        return self._changed[base]

    def messages(self, base: str | None) -> tuple[str, ...]:
        """The message of every commit in base..CIRCLE_SHA1, newest first."""
        if base not in self._messages:
            with _git_failures():
                repo, commit = self._repo_and_commit()
                start, _ = self._base_of(base)
                if start == EMPTY_TREE:
                    found: tuple[str, ...] = (_text(commit.message),)
                else:
                    span = f"{start}..{commit.hexsha}"
                    found = tuple(_text(c.message) for c in repo.iter_commits(span))
            self._messages[base] = found
            self.read["messages"] = _RANGE_SOURCE
        return self._messages[base]

    def _the_commit(self) -> Any:
        if self._commit is None:
            if not self._sha:
                raise ConfigError(
                    "environment: CIRCLE_SHA1 is not set: the git facts "
                    "(message, author, committer, messages, changed) are of that commit"
                )
            repo = open_repo(self._path)
            resolved = _resolve(repo, self._sha)
            if resolved is None:
                raise _missing(
                    repo,
                    f"CIRCLE_SHA1 {self._sha} is not a commit",
                    "run the gate in the checkout of the build, or pass --repo PATH",
                )
            self._commit = repo.commit(resolved)
        return self._commit

    def _repo_and_commit(self) -> tuple[Any, Any]:
        commit = self._the_commit()
        return commit.repo, commit

    def _base_of(self, base: str | None) -> tuple[str, str]:
        if base not in self._bases:
            repo, commit = self._repo_and_commit()
            self._bases[base] = _base(repo, commit, base)
        return self._bases[base]


_RANGE_SOURCE = "git: base..CIRCLE_SHA1 (each condition names its base)"


def _commit_fact(commit: Any, name: str) -> str:
    if name == "message":
        return _text(commit.message)
    person = commit.author if name == "author" else commit.committer
    return str(person.email or "")


def _text(value: str | bytes) -> str:
    """A message as written, without the newline git ends it with."""
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()


def _base(repo: Any, commit: Any, spec: str | None) -> tuple[str, str]:
    """(base commit, how it was chosen): changed_base as written (`HEAD` being the
    commit), else the merge-base with the remote's default branch, else (on that branch
    itself) the first parent."""
    if spec:
        found = _resolve(repo, _HEAD.sub(commit.hexsha, spec, count=1))
        if found is None:
            raise _missing(
                repo,
                f"changed_base {spec!r} does not name a commit",
                f"fetch it first, e.g. `git fetch origin {spec.removeprefix('origin/')}`"
                if spec.startswith("origin/")
                else "check changed_base in the rules file",
            )
        return found, f"changed_base {spec}"
    default = next((name for name in DEFAULT_BRANCHES if _resolve(repo, name)), None)
    if default is None:
        raise ConfigError(
            f"git: cannot find the remote's default branch in {repo.working_dir} (none of "
            f"{', '.join(DEFAULT_BRANCHES)}; CircleCI's checkout fetches only the branch it "
            "builds): fetch it, e.g. `git fetch origin main`, or set changed_base "
            "in the rules file"
        )
    bases = repo.merge_base(commit, default)
    if not bases:
        raise _missing(
            repo,
            f"CIRCLE_SHA1 and {default} have no commit in common",
            "set changed_base in the rules file",
        )
    if bases[0].hexsha != commit.hexsha:
        return bases[0].hexsha, f"merge-base with {default}"
    parent = _resolve(repo, f"{commit.hexsha}^1")
    if parent:  # the commit is on the default branch: what it added
        return parent, f"first parent (the commit is on {default})"
    if _shallow(repo):
        raise _missing(repo, f"the parent of {commit.hexsha} was not fetched", "")
    return EMPTY_TREE, "none: the root commit, every path counts"


def _changed_paths(repo: Any, base: str, sha: str) -> Iterator[str]:
    """The paths changed in base..sha, in blocks of NUL-ended names, read from `git diff`
    while it prints them (so the matching runs beside git, on the other core).
    --no-renames: a rename is its old path deleted and its new path added, so both count;
    -z: any byte in a name survives."""
    process = repo.git.diff(
        "--name-only", "-z", "--no-renames", "--no-ext-diff", base, sha, as_process=True
    )
    rest = b""
    for chunk in iter(lambda: process.stdout.read(_CHUNK), b""):
        end = chunk.rfind(b"\0") + 1
        if end:
            yield os.fsdecode(rest + chunk[:end])
            rest = chunk[end:]
        else:
            rest += chunk
    if rest:
        yield os.fsdecode(rest + b"\0")
    process.wait()  # a failure is GitCommandError, which _git_failures reports


class _Tally:
    """One `changed` condition's answer, built block by block."""

    __slots__ = ("examples", "matcher", "query", "result")

    def __init__(self, query: PathQuery) -> None:
        from ci_deploy_gate.patterns import path_matcher

        self.query = query
        self.matcher = path_matcher(query.patterns)
        self.result = query.only  # `only` holds until a path outside turns up
        self.examples: list[str] = []

    @property
    def done(self) -> bool:
        """Nothing more can change the answer or its examples."""
        return len(self.examples) >= EXAMPLES

    def add(self, names: str) -> None:
        """NUL-ended names: joined by newlines and scanned with one regex, or one by
        one in the rare block where a name holds a newline itself."""
        if "\n" in names:
            deciders = [
                n for n in names.split("\0")[:-1] if self.matcher.match(n) != self.query.only
            ]
        else:
            regex = self.matcher.outside if self.query.only else self.matcher.lines
            found = regex.finditer(names.replace("\0", "\n"))
            deciders = [m.group() for m, _ in zip(found, range(EXAMPLES - len(self.examples)))]
        if deciders:
            self.result = not self.query.only
            self.examples.extend(deciders[: EXAMPLES - len(self.examples)])


def answer_paths(
    blocks: Iterable[str], queries: Iterable[PathQuery]
) -> tuple[int, dict[PathQuery, PathAnswer]]:
    """(paths seen, each condition's answer), from blocks of NUL-ended names. Memory stays
    flat: a block is matched and let go, and a condition already answered with all its
    examples is not matched again."""
    tallies = [_Tally(query) for query in queries]
    total = 0
    for names in blocks:
        total += names.count("\0")
        for tally in tallies:
            if not tally.done:
                tally.add(names)
    return total, {t.query: PathAnswer(t.result, tuple(t.examples)) for t in tallies}


def local_environment(repo_path: str) -> tuple[dict[str, str], dict[str, str]]:
    """The CIRCLE_* variables a CircleCI build of this checkout's HEAD would have, and
    where each came from: the local dry-run needs no setup."""
    with _git_failures():
        return _local_environment(repo_path)


def _local_environment(repo_path: str) -> tuple[dict[str, str], dict[str, str]]:
    repo = open_repo(repo_path)
    try:
        head = repo.head.commit
    except ValueError:
        raise ConfigError(f"git: {repo.working_dir} has no commit yet: nothing to deploy") from None
    values = {"CIRCLE_SHA1": head.hexsha}
    origins = {"CIRCLE_SHA1": "local checkout: HEAD"}
    if not repo.head.is_detached:
        values["CIRCLE_BRANCH"] = repo.active_branch.name
        origins["CIRCLE_BRANCH"] = "local checkout: the current branch"
    tags = repo.git.tag("--points-at", head.hexsha, "--sort=-version:refname").split()
    if tags:
        values["CIRCLE_TAG"] = tags[0]
        origins["CIRCLE_TAG"] = "local checkout: a tag at HEAD"
    url = next((remote.url for remote in repo.remotes if remote.name == "origin"), None)
    if not url:
        return values, origins
    # Kept even when it names no project: the error that the project is missing shows it.
    values["CIRCLE_REPOSITORY_URL"] = _USERINFO.sub("", url)
    origins["CIRCLE_REPOSITORY_URL"] = "local checkout: the origin remote"
    # giturlparse reads https://user:token@host/repo.git as an ssh URL whose owner is the
    # token's last letter; an ssh:// URL needs its user (git@) to parse.
    web = url.lower().startswith(("http://", "https://"))
    project = _project(_USERINFO.sub("", url) if web else url)
    if project:
        org, name = project
        values.update(CIRCLE_PROJECT_USERNAME=org, CIRCLE_PROJECT_REPONAME=name)
        for variable in ("CIRCLE_PROJECT_USERNAME", "CIRCLE_PROJECT_REPONAME"):
            origins[variable] = "local checkout: the origin remote"
    return values, origins


def _project(url: str) -> tuple[str, str] | None:
    """(org, repo) of a GitHub, Bitbucket or GitLab remote URL, ssh or https; a GitLab
    subgroup stays in the org (group/sub)."""
    import giturlparse  # type: ignore[import-untyped]

    parsed = giturlparse.parse(url)
    if not parsed.valid or not parsed.owner or not parsed.repo:
        return None
    groups = [group for group in (getattr(parsed, "groups", None) or []) if group]
    return "/".join([parsed.owner, *groups]), parsed.repo
