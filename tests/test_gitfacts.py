"""Git facts and the local dry-run, on real repositories made in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ci_deploy_gate.cli import main
from ci_deploy_gate.context import PathQuery
from ci_deploy_gate.gitfacts import answer_paths
from tests.conftest import ROOT, SHA, circle_env, run_gate, write
from tests.gitrepo import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """main with services/api, services/web and docs, published as origin/main."""
    found = Repo(tmp_path / "shop")
    found.commit(
        "init",
        "services/api/app.py",
        "services/api/docs/notes.md",
        "services/web/index.html",
        "docs/guide.md",
        "README.md",
    )
    found.git("remote", "add", "origin", "git@github.com:acme/shop.git")
    found.publish()
    return found


def decide(repo: Repo, rules: str, sha: str | None = None, **env: str | None) -> dict[str, object]:
    """Run the gate in-process on `repo` as a CircleCI build of `sha` (default HEAD)."""
    path = write(repo.path.parent / "gate.yml", rules)
    report = repo.path.parent / "report.json"
    environ = circle_env(CIRCLE_SHA1=sha or repo.git("rev-parse", "HEAD"), **env)
    code = main(
        ["--rules", str(path), "--repo", str(repo.path), "--dry-run", "--report", str(report)],
        environ,
    )
    assert code == 0
    return dict(json.loads(report.read_text()))


def verdicts(repo: Repo, condition: str, **env: str | None) -> tuple[bool, object]:
    """(matched, the first condition's actual) of one rule with `condition`."""
    rules = f"rules:\n  - name: r\n    if: {json.dumps(condition)}\n    trigger: deploy\n"
    doc = decide(repo, rules, **env)
    rule = doc["rules"][0]  # type: ignore[index]
    return rule["matched"], rule["conditions"][0]["actual"]


# --- changed -----------------------------------------------------------------------------


def test_changed_is_true_when_a_path_under_the_glob_changed(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("api change", "services/api/handlers/orders.py")
    matched, actual = verdicts(repo, 'changed "services/api/**"')
    assert matched is True
    assert actual == {
        "base": repo.git("rev-parse", "main"),
        "how": "merge-base with origin/HEAD",
        "paths": 1,
        "matching": ["services/api/handlers/orders.py"],
    }


def test_changed_is_false_when_only_other_paths_changed(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("web change", "services/web/app.js")
    assert verdicts(repo, 'changed "services/api/**"')[0] is False


def test_a_rename_counts_its_old_and_its_new_path(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("mv", "services/api/app.py", "services/web/app.py")
    repo.commit("move app to web")
    assert verdicts(repo, 'changed "services/api/**"') == (
        True,
        {
            "base": repo.git("rev-parse", "main"),
            "how": "merge-base with origin/HEAD",
            "paths": 2,
            "matching": ["services/api/app.py"],
        },
    )
    assert verdicts(repo, 'changed "services/web/**"')[0] is True


def test_a_deletion_counts(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("rm", "-q", "services/api/app.py")
    repo.commit("drop app")
    assert verdicts(repo, 'changed "services/api/*.py"')[0] is True


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('changed "services/*.md"', False),  # * stays inside one folder
        ('changed "services/**/*.md"', True),  # ** crosses folders
        ('changed "services/**"', True),
        ('changed "services/*"', False),  # direct children only
        ('changed "services/api/*/"', True),  # a folder pattern takes the folder's contents
        ('changed "*.md"', True),  # no slash: at any depth
        ('changed "/*.md"', False),  # a leading / anchors it at the top
        ('changed ["services/api/**", "!services/api/docs/**"]', False),  # ! excludes again
        ('changed ["services/api/**", "!services/api/docs/*.txt"]', True),
        ('changed only ["docs/**", "*.md"]', True),  # every changed path is documentation
        ('changed only "docs/**"', False),  # services/api/docs/notes.md is outside docs/
        ("changed only services/**", False),
    ],
)
def test_path_patterns_follow_gitignore_semantics(
    repo: Repo, condition: str, expected: bool
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("services/api/docs/notes.md", "docs/guide.md", text="changed\n")
    repo.commit("notes")
    assert verdicts(repo, condition)[0] is expected


def test_changed_only_names_the_paths_outside(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("mixed", "docs/new.md", "services/api/x.py")
    matched, actual = verdicts(repo, 'changed only "docs/**"')
    assert matched is False
    assert isinstance(actual, dict)
    assert actual["outside"] == ["services/api/x.py"]


def test_default_base_is_the_merge_base_not_the_moved_on_default_branch(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    feature = repo.commit("web only", "services/web/new.js")
    repo.git("checkout", "-q", "main")
    repo.commit("api on main meanwhile", "services/api/later.py")
    repo.publish()
    repo.git("checkout", "-q", "feature")
    # A diff against origin/main itself would include main's api change.
    assert verdicts(repo, 'changed "services/api/**"', sha=feature)[0] is False


def test_on_the_default_branch_the_base_is_the_first_parent(repo: Repo) -> None:
    repo.commit("api", "services/api/one.py")
    head = repo.commit("web", "services/web/two.js")
    repo.publish()
    matched, actual = verdicts(repo, 'changed "services/web/**"', sha=head)
    assert matched is True
    assert isinstance(actual, dict)
    assert actual["how"] == "first parent (the commit is on origin/HEAD)"
    assert actual["matching"] == ["services/web/two.js"]
    assert verdicts(repo, 'changed "services/api/**"', sha=head)[0] is False


def test_changed_base_from_the_file_and_per_rule(repo: Repo) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.commit("api", "services/api/one.py")
    repo.commit("web", "services/web/two.js")
    repo.publish()
    rules = f"""\
changed_base: {first}
match: all
rules:
  - name: since-first
    if: changed "services/api/**"
    trigger: a
  - name: last-commit
    changed_base: HEAD~1
    if: changed "services/api/**"
    trigger: b
"""
    doc = decide(repo, rules)
    assert [r["matched"] for r in doc["rules"]] == [True, False]  # type: ignore[index]
    actual = doc["rules"][1]["conditions"][0]["actual"]  # type: ignore[index]
    assert actual["how"] == "changed_base HEAD~1"


@pytest.mark.parametrize("base", ["HEAD~1", "HEAD^", "HEAD^1", "@~1", "HEAD~0^"])
def test_changed_base_head_counts_from_circle_sha1_not_the_checkout(repo: Repo, base: str) -> None:
    """A step merged upstream into the checkout before the gate: HEAD moved past CIRCLE_SHA1."""
    repo.git("checkout", "-q", "-b", "feature")
    a = repo.commit("A", "services/web/a.js")
    b = repo.commit("B", "services/api/b.py")
    repo.commit("C", "services/web/c.js")  # checked out, one ahead of CIRCLE_SHA1
    rules = f"""\
changed_base: "{base}"
match: all
rules:
  - name: api
    if: changed "services/api/**"
    trigger: deploy_api
  - name: web
    if: changed "services/web/**"
    trigger: deploy_web
"""
    doc = decide(repo, rules, sha=b)
    assert [r["matched"] for r in doc["rules"]] == [True, False]  # type: ignore[index]
    assert doc["rules"][0]["conditions"][0]["actual"] == {  # type: ignore[index]
        "base": a,
        "how": f"changed_base {base}",
        "paths": 1,
        "matching": ["services/api/b.py"],
    }


def test_changed_base_head_of_the_reflog_stays_the_checkouts(repo: Repo) -> None:
    """`HEAD@{1}` is not HEAD's ancestry but where the checkout's HEAD was before."""
    b = repo.commit("B", "services/api/b.py")
    head = repo.commit("C", "services/web/c.js")
    doc = decide(repo, 'changed_base: "HEAD@{1}"\n' + GIT_RULE, sha=head)
    actual = doc["rules"][0]["conditions"][0]["actual"]  # type: ignore[index]
    assert (actual["base"], actual["matching"]) == (b, [])


def test_answers_keep_few_examples_and_count_every_path() -> None:
    paths = [f"src/{i}.py" for i in range(1000)] + ["docs/a.md"]
    total, answers = answer_paths(
        ["\0".join(paths[:500]) + "\0", "\0".join(paths[500:]) + "\0"],
        [PathQuery(("src/**",), False), PathQuery(("src/**",), True)],
    )
    assert total == 1001
    assert answers[PathQuery(("src/**",), False)].result is True
    assert len(answers[PathQuery(("src/**",), False)].examples) == 10
    assert answers[PathQuery(("src/**",), True)].result is False
    assert answers[PathQuery(("src/**",), True)].examples == ("docs/a.md",)


def test_changed_only_of_no_change_at_all_holds() -> None:
    """Every one of no paths is documentation: `not changed only docs` does not deploy."""
    total, answers = answer_paths([], [PathQuery(("docs/**",), True)])
    assert (total, answers[PathQuery(("docs/**",), True)].result) == (0, True)


# --- message, messages, author, committer ---------------------------------------------------


def test_message_and_author_rules(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("fix: login [hotfix]\n\nlong body", "a.py", author="alice@acme.io")
    assert verdicts(repo, 'message contains "[hotfix]"') == (
        True,
        "fix: login [hotfix]\n\nlong body",
    )
    assert verdicts(repo, "message matches /^fix:/")[0] is True
    assert verdicts(repo, "message matches /^login/")[0] is False
    assert verdicts(repo, "message matches /^long body$/")[0] is True  # ^ $ take each line
    assert verdicts(repo, "author is alice@acme.io") == (True, "alice@acme.io")
    assert verdicts(repo, "author matches *@acme.io")[0] is True
    assert verdicts(repo, "committer is robot@acme.io")[0] is True


def test_skip_deploy_anywhere_in_the_pushed_range_counts(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("wip [skip deploy]", "a.py")
    repo.commit("finish", "b.py")
    assert verdicts(repo, 'message contains "[skip deploy]"')[0] is False
    matched, actual = verdicts(repo, 'messages contain "[skip deploy]"')
    assert (matched, actual) == (True, {"commits": 2, "matching": ["wip [skip deploy]"]})
    assert verdicts(repo, "messages match /^finish$/")[0] is True


def test_when_map_git_facts(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("release: api 2.0", "services/api/v2.py")
    rules = """\
match: all
rules:
  - name: api
    when:
      changed: ["services/api/**", "!**/*.md"]
      message: {contains: "api", matches: "/^release:/"}
      messages: {contains: "2.0"}
    trigger: deploy_api
  - name: docs
    when:
      changed: {only: ["docs/**"]}
    trigger: deploy_docs
"""
    doc = decide(repo, rules)
    assert [r["matched"] for r in doc["rules"]] == [True, False]  # type: ignore[index]
    conditions = [c["condition"] for c in doc["rules"][0]["conditions"]]  # type: ignore[index]
    assert conditions == [
        "changed: [services/api/**, !**/*.md]",
        "message contains 'api'",
        "message matches /^release:/",
        "messages contains '2.0'",
    ]


# --- laziness ---------------------------------------------------------------------------


def test_rules_without_git_facts_or_windows_never_import_them(tmp_path: Path) -> None:
    rules = write(tmp_path / "gate.yml", "rules:\n  - {name: a, if: branch is x, trigger: d}\n")
    script = (
        "import sys\nfrom ci_deploy_gate.cli import main\n"
        f"main(['--rules', {str(rules)!r}])\n"
        "heavy = ('git', 'pathspec', 'giturlparse', 'zoneinfo')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    env = {**circle_env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stderr


def test_git_facts_import_gitpython_only_then(repo: Repo, tmp_path: Path) -> None:
    rules = write(tmp_path / "gate.yml", "rules:\n  - {name: a, if: author is x, trigger: d}\n")
    script = (
        "import sys\nfrom ci_deploy_gate.cli import main\n"
        f"main(['--rules', {str(rules)!r}, '--repo', {str(repo.path)!r}])\n"
        "print('git' in sys.modules)"
    )
    env = {**circle_env(CIRCLE_SHA1=repo.git("rev-parse", "HEAD")), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.splitlines()[-1] == "True", done.stderr


# A release tag first, then a rule that needs git only on main: the file of issue 13.
TAG_THEN_API = """\
match: {match}
rules:
  - name: release
    if: tag matches /v.*/
    trigger: deploy_release
  - name: api
    if: branch is main and changed "api/"
    trigger: deploy_api
"""


def unfetched(tmp_path: Path) -> tuple[Repo, str]:
    """A checkout as CircleCI's tag checkout leaves it: no origin/main, nor any remote ref."""
    found = Repo(tmp_path / "tagged")
    found.commit("init", "README.md")
    sha = found.commit("api: v1", "api/app.py")
    found.git("tag", "v1.0.0")
    return found, sha


@pytest.mark.parametrize("match", ["first", "all"])
def test_a_tag_build_without_origin_main_deploys_the_tag_rule(tmp_path: Path, match: str) -> None:
    """No rule needs `changed` on a tag build: first stops at the tag rule, and under all
    the api rule is decided by `branch is main` alone."""
    repo, sha = unfetched(tmp_path)
    doc = decide(
        repo,
        TAG_THEN_API.format(match=match),
        sha=sha,
        CIRCLE_BRANCH=None,
        CIRCLE_TAG="v1.0.0",
    )
    assert (doc["decision"], doc["rule"]) == ("dry-run", "release")
    assert "changed" not in doc["sources"]  # type: ignore[operator]


def test_rules_after_the_deciding_one_are_not_evaluated(repo: Repo) -> None:
    """match: first: the report lists their conditions, none needed nor read."""
    doc = decide(repo, TAG_THEN_API.format(match="first"), CIRCLE_BRANCH=None, CIRCLE_TAG="v1.0.0")
    assert doc["rules"] == [
        {
            "name": "release",
            "matched": True,
            "evaluated": True,
            "conditions": [
                {
                    "condition": "tag matches /v.*/",
                    "result": True,
                    "actual": "v1.0.0",
                    "needed": True,
                }
            ],
        },
        {
            "name": "api",
            "matched": None,
            "evaluated": False,
            "conditions": [
                {"condition": "branch is main", "result": None, "actual": None, "needed": False},
                {
                    "condition": 'changed "api/"',
                    "result": None,
                    "actual": None,
                    "needed": False,
                },
            ],
        },
    ]
    assert "changed" not in doc["sources"]  # type: ignore[operator]


def test_a_condition_not_needed_is_null_in_the_report(repo: Repo) -> None:
    doc = decide(repo, TAG_THEN_API.format(match="all"), CIRCLE_BRANCH="feature", CIRCLE_TAG=None)
    assert doc["rules"][1] == {  # type: ignore[index]
        "name": "api",
        "matched": False,
        "evaluated": True,
        "conditions": [
            {"condition": "branch is main", "result": False, "actual": "feature", "needed": True},
            {"condition": 'changed "api/"', "result": None, "actual": None, "needed": False},
        ],
    }


def test_a_feature_branch_decides_without_git(tmp_path: Path) -> None:
    """`branch is main and changed ...` on a feature branch: no match, and git is never
    read: the checkout is not even a repository, and GitPython is never imported."""
    plain = tmp_path / "plain"
    rules = write(plain / "gate.yml", TAG_THEN_API.format(match="first"))
    script = (
        "import sys\nfrom ci_deploy_gate.cli import main\n"
        f"code = main(['--rules', {str(rules)!r}, '--repo', {str(plain)!r}])\n"
        "print(code, 'git' in sys.modules)"
    )
    env = {**circle_env(CIRCLE_BRANCH="feature/login"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=plain, capture_output=True, text=True
    )
    assert done.stdout.splitlines() == [
        "skipped: no rule matched",
        "  rule release: no match",
        "    [ ] tag matches /v.*/  (tag: unset)",
        "  rule api: no match",
        "    [ ] branch is main  (branch: 'feature/login')",
        '    [-] changed "api/"  (not needed)',
        "0 False",
    ], done.stderr


def test_the_text_shows_rules_not_evaluated(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write(plain / ".circleci" / "deploy-gate.yml", TAG_THEN_API.format(match="first"))
    env = circle_env(CIRCLE_BRANCH=None, CIRCLE_TAG="v1.0.0")
    result = run_gate(["--dry-run"], env, plain)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:5] == [
        "dry-run: rule 'release' matched; nothing sent",
        "  rule release: matched",
        "    [x] tag matches /v.*/  (tag: 'v1.0.0')",
        "  rule api: not evaluated",
        f"  deploy_release (rule release) at {SHA}:",
    ]


def test_a_git_fact_a_verdict_needs_still_fails_naming_the_rule(tmp_path: Path) -> None:
    """On main the api rule needs `changed`, and the tag checkout has no origin/main."""
    repo, sha = unfetched(tmp_path)
    rules = TAG_THEN_API.format(match="first")
    assert error_of(repo.path, rules=rules, CIRCLE_SHA1=sha, CIRCLE_BRANCH="main") == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:6: rules[1] (api): changed: git: "
        f"cannot find the remote's default branch in {repo.path} (none of origin/HEAD, "
        "origin/main, origin/master; CircleCI's checkout fetches only the branch it builds): "
        "fetch it, e.g. `git fetch origin main`, or set changed_base in the rules file"
    )


def test_match_all_reads_what_every_rule_needs(repo: Repo) -> None:
    repo.commit("api", "api/app.py")
    repo.publish()
    doc = decide(repo, TAG_THEN_API.format(match="all"), CIRCLE_BRANCH="main", CIRCLE_TAG="v2")
    assert [(r["matched"], r["evaluated"]) for r in doc["rules"]] == [  # type: ignore[index]
        (True, True),
        (True, True),
    ]
    assert doc["sources"]["changed"] == (  # type: ignore[index]
        "git: base..CIRCLE_SHA1 (each condition names its base)"
    )


def test_sources_name_only_the_git_facts_read(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("fix [hotfix]", "services/api/fix.py")
    rules = (
        "rules:\n  - name: r\n"
        '    if: message contains "[hotfix]" or changed "services/**" or author is a\n'
        "    trigger: d\n"
    )
    doc = decide(repo, rules)
    sha = repo.git("rev-parse", "HEAD")
    assert {k: v for k, v in doc["sources"].items() if v.startswith("git")} == {  # type: ignore[attr-defined]
        "message": f"git: the commit {sha}"
    }
    assert [c["needed"] for c in doc["rules"][0]["conditions"]] == [True, False, False]  # type: ignore[index]


def test_one_diff_per_base_answers_each_changed_of_that_base(repo: Repo) -> None:
    from ci_deploy_gate.gitfacts import LazyGit

    repo.git("checkout", "-q", "-b", "feature")
    sha = repo.commit("api", "services/api/x.py")
    api, docs = PathQuery(("services/api/**",), False), PathQuery(("docs/**",), True)
    reader = LazyGit(str(repo.path), sha, {None: frozenset({api, docs})})
    assert reader.read == {}
    found = reader.changed(None)
    assert (found.total, found.answers[api].result, found.answers[docs].result) == (
        1,
        True,
        False,
    )
    assert reader.changed(None) is found  # kept: the diff is not read again


FREEZE_UNLESS = """\
freezes:
  - name: year-end
    from: 2026-12-19
    to: 2027-01-04
    timezone: UTC
    unless: changed "hotfix/"
rules:
  - name: production
    if: not frozen
    trigger: deploy
"""


def test_the_unless_of_a_freeze_not_in_force_is_not_read(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write(plain / ".circleci" / "deploy-gate.yml", FREEZE_UNLESS)
    result = run_gate(["--dry-run", "--now", "2026-11-20T12:00:00Z"], circle_env(), plain)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "dry-run: rule 'production' matched; nothing sent",
        "  rule production: matched",
        "    [x] not frozen  (frozen: year-end starts Sat 2026-12-19 00:00 UTC, in 28d 12h)",
    ]


def test_the_unless_of_a_freeze_in_force_is_read_and_named_when_it_fails(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain"
    assert error_of(plain, "--now", "2026-12-20T12:00:00Z", rules=FREEZE_UNLESS) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: freezes[0] (year-end): unless: "
        f"changed: git: {plain} is not in a git repository (git facts and the local dry-run "
        "read the checkout: run in it, or pass --repo PATH)"
    )


# --- errors -----------------------------------------------------------------------------

GIT_RULE = 'rules:\n  - {name: api, if: changed "services/api/**", trigger: deploy_api}\n'


def error_of(cwd: Path, *args: str, rules: str = GIT_RULE, **env: str | None) -> str:
    write(cwd / ".circleci" / "deploy-gate.yml", rules)
    result = run_gate(["--dry-run", *args], circle_env(**env), cwd)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return result.stderr.strip()


def test_not_a_git_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    assert error_of(folder) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        f"git: {folder} is not in a git repository (git facts and the "
        "local dry-run read the checkout: run in it, or pass --repo PATH)"
    )


def test_sha_missing_from_the_clone(repo: Repo) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert error_of(repo.path, CIRCLE_SHA1=sha) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        f"git: CIRCLE_SHA1 {sha} is not a commit "
        f"in {repo.path} "
        "(run the gate in the checkout of the build, or pass --repo PATH)"
    )


def test_base_not_resolvable(repo: Repo) -> None:
    rules = f"changed_base: origin/release\n{GIT_RULE}"
    sha = repo.git("rev-parse", "HEAD")
    assert error_of(repo.path, rules=rules, CIRCLE_SHA1=sha) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:3: rules[0] (api): changed: "
        f"git: changed_base 'origin/release' does not name "
        f"a commit in {repo.path} (fetch it first, e.g. `git fetch origin release`)"
    )


def test_no_default_branch_says_how_to_fetch_it(tmp_path: Path) -> None:
    bare = Repo(tmp_path / "bare")
    sha = bare.commit("init", "a.py")
    assert error_of(bare.path, CIRCLE_SHA1=sha) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        f"git: cannot find the remote's default branch "
        f"in {bare.path} "
        "(none of origin/HEAD, origin/main, origin/master; CircleCI's checkout fetches only "
        "the branch it builds): fetch it, e.g. `git fetch origin main`, or set changed_base "
        "in the rules file"
    )


def test_shallow_clone_names_the_cause_and_the_fix(repo: Repo, tmp_path: Path) -> None:
    repo.commit("second", "b.py")
    repo.commit("third", "c.py")
    clone = Repo(tmp_path / "clone", init=False)
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone.path)],
        check=True,
    )
    rules = f"changed_base: HEAD~1\n{GIT_RULE}"
    sha = clone.git("rev-parse", "HEAD")
    assert error_of(clone.path, rules=rules, CIRCLE_SHA1=sha) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:3: rules[0] (api): changed: "
        f"git: changed_base 'HEAD~1' does not name a commit "
        f"in {clone.path} (this clone is shallow, the usual cause: fetch the history first, "
        "e.g. `git fetch --unshallow` (or a deeper --depth) before the gate runs)"
    )
    # the default base: the commit is on origin/main, and its parent was not fetched
    assert error_of(clone.path, CIRCLE_SHA1=sha).startswith(
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        f"git: the parent of {sha} was not fetched "
        f"in {clone.path} "
        "(this clone is shallow, the usual cause"
    )


def test_git_not_installed(repo: Repo) -> None:
    message = error_of(
        repo.path,
        CIRCLE_SHA1=repo.git("rev-parse", "HEAD"),
        GIT_PYTHON_GIT_EXECUTABLE="/nonexistent/git",
        GIT_PYTHON_REFRESH="error",
    )
    assert message.startswith(
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        "git: cannot run git ("
    )
    assert message.endswith(
        "install git, or drop the git facts (message, author, committer, messages, changed) "
        "from the rules"
    )


def test_a_broken_repository_is_one_git_line(repo: Repo) -> None:
    """A commit object missing from the middle of the range: git itself fails."""
    base = repo.git("rev-parse", "HEAD")
    middle = repo.commit("middle", "m.py")
    head = repo.commit("head", "h.py")
    (repo.path / ".git" / "objects" / middle[:2] / middle[2:]).unlink()
    rules = f"changed_base: {base}\nrules:\n  - {{name: a, if: messages contain x, trigger: d}}\n"
    assert error_of(repo.path, rules=rules, CIRCLE_SHA1=head) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:3: rules[0] (a): messages: "
        f"git: `git rev-list {base}..{head} --` failed: error: Could "
        f"not read {middle}; fatal: revision walk setup failed"
    )


def test_a_diff_git_cannot_read_is_one_git_line(repo: Repo) -> None:
    base = repo.git("rev-parse", "HEAD")
    head = repo.commit("head", "services/api/h.py")
    tree = repo.git("rev-parse", "HEAD^{tree}")
    (repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    rules = f"changed_base: {base}\n{GIT_RULE}"
    message = error_of(repo.path, rules=rules, CIRCLE_SHA1=head)
    assert message.startswith(
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:3: rules[0] (api): changed: "
        "git: `git diff --name-only -z --no-renames --no-ext-diff "
        f"{base} {head}` failed: "
    )
    assert tree in message


def test_an_exported_variable_wins_over_the_checkout(repo: Repo) -> None:
    write(repo.path / ".circleci" / "deploy-gate.yml", LOCAL_RULES)
    result = run_gate(["--dry-run", "--json"], {"CIRCLE_BRANCH": "release"}, repo.path)
    doc = json.loads(result.stdout)
    assert doc["rule"] == "production"
    assert doc["sources"]["branch"] == "environment (CIRCLE_BRANCH)"
    assert doc["sources"]["sha"] == "local checkout: HEAD (CIRCLE_SHA1)"


def test_git_facts_need_the_sha(repo: Repo) -> None:
    assert error_of(repo.path, CIRCLE_SHA1=None) == (
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (api): changed: "
        "environment: CIRCLE_SHA1 is not set: the git facts "
        "(message, author, committer, messages, changed) are of that commit"
    )


# --- the local dry-run ------------------------------------------------------------------

LOCAL_RULES = """\
rules:
  - name: production
    if: branch is release
    trigger: deploy_docker
  - name: tagged
    if: tag matches v*
    trigger: deploy_tag
"""


def local(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    write(repo.path / ".circleci" / "deploy-gate.yml", LOCAL_RULES)
    result = run_gate(["--dry-run", *args], {}, repo.path)
    assert "Traceback" not in result.stderr
    return result


def test_local_dry_run_on_a_branch(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "release")
    sha = repo.commit("ship", "services/api/ship.py")
    result = local(repo, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["decision"] == "dry-run"
    assert doc["rule"] == "production"
    assert doc["sources"] == {
        "branch": "local checkout: the current branch (CIRCLE_BRANCH)",
        "sha": "local checkout: HEAD (CIRCLE_SHA1)",
        "project": "local checkout: the origin remote (CIRCLE_PROJECT_USERNAME)",
        "ref": "local checkout: the current branch (CIRCLE_BRANCH)",
    }
    assert doc["triggers"][0]["request"] == {  # a rules file without `api`: v2
        "method": "POST",
        "url": "https://circleci.com/api/v2/project/gh/acme/shop/pipeline",
        "body": {
            "branch": "release",
            "parameters": {"deploy_job": "deploy_docker", "deploy_revision": sha},
        },
    }
    assert result.stderr.splitlines()[1] == (
        "  facts from the local checkout: branch: the current branch; sha: HEAD; "
        "project: the origin remote; ref: the current branch"
    )


def test_local_dry_run_on_a_detached_head_has_no_branch(repo: Repo) -> None:
    repo.git("checkout", "-q", "--detach")
    result = local(repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "skipped: no rule matched"
    assert "    [ ] branch is release  (branch: unset)" in result.stdout.splitlines()


def test_local_dry_run_on_a_tag(repo: Repo) -> None:
    repo.git("tag", "v1.2.0")
    repo.git("checkout", "-q", "v1.2.0")
    result = local(repo, "--json")
    doc = json.loads(result.stdout)
    assert doc["rule"] == "tagged"
    assert doc["sources"]["tag"] == "local checkout: a tag at HEAD (CIRCLE_TAG)"
    assert doc["triggers"][0]["request"]["body"]["tag"] == "v1.2.0"


def test_set_still_wins_over_the_checkout(repo: Repo) -> None:
    result = local(repo, "--json", "--set", "CIRCLE_BRANCH=release")
    doc = json.loads(result.stdout)
    assert doc["rule"] == "production"
    assert doc["sources"]["branch"] == "--set (CIRCLE_BRANCH)"
    assert doc["sources"]["sha"] == "local checkout: HEAD (CIRCLE_SHA1)"


@pytest.mark.parametrize(
    ("url", "vcs", "org", "name"),
    [
        ("git@github.com:acme/shop.git", "gh", "acme", "shop"),
        ("https://github.com/acme/shop", "gh", "acme", "shop"),
        ("ssh://git@bitbucket.org/acme/shop.git", "bb", "acme", "shop"),
        ("https://bob:s3cret@bitbucket.org/acme/shop.git", "bb", "acme", "shop"),
    ],
)
def test_local_project_from_the_origin_url(
    repo: Repo, url: str, vcs: str, org: str, name: str
) -> None:
    repo.git("remote", "set-url", "origin", url)
    repo.git("checkout", "-q", "-b", "release")
    result = local(repo, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["triggers"][0]["request"]["url"] == (
        f"https://circleci.com/api/v2/project/{vcs}/{org}/{name}/pipeline"
    )
    assert "s3cret" not in result.stdout + result.stderr


def test_local_gitlab_remote_keeps_the_subgroup(repo: Repo) -> None:
    from ci_deploy_gate.gitfacts import local_environment

    repo.git("remote", "set-url", "origin", "git@gitlab.com:acme/platform/shop.git")
    values, _ = local_environment(str(repo.path))
    assert (values["CIRCLE_PROJECT_USERNAME"], values["CIRCLE_PROJECT_REPONAME"]) == (
        "acme/platform",
        "shop",
    )


PASS_THE_PROJECT = "pass --set CIRCLE_PROJECT_USERNAME=ORG --set CIRCLE_PROJECT_REPONAME=REPO"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/srv/git/shop.git", "/srv/git/shop.git"),
        ("https://deploy:s3cret@git.example.com/shop.git", "https://git.example.com/shop.git"),
    ],
)
def test_local_origin_that_names_no_project_says_so(repo: Repo, url: str, shown: str) -> None:
    repo.git("remote", "set-url", "origin", url)
    repo.git("checkout", "-q", "-b", "release")
    result = local(repo)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate: error: environment: CIRCLE_PROJECT_USERNAME and "
        f"CIRCLE_PROJECT_REPONAME not set: the checkout's origin remote ({shown}) is not on "
        f"GitHub, Bitbucket or GitLab, so it names no CircleCI project; {PASS_THE_PROJECT}\n"
    )


def test_local_checkout_without_origin_says_so(repo: Repo) -> None:
    repo.git("remote", "remove", "origin")
    repo.git("checkout", "-q", "-b", "release")
    result = local(repo)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate: error: environment: CIRCLE_PROJECT_USERNAME and "
        "CIRCLE_PROJECT_REPONAME not set: the checkout has no origin remote to name the "
        f"CircleCI project after; {PASS_THE_PROJECT}\n"
    )
    result = local(repo, "--set", "CIRCLE_PROJECT_USERNAME=acme")
    assert result.stderr == (
        "ci-deploy-gate: error: environment: CIRCLE_PROJECT_REPONAME not set: the checkout "
        "has no origin remote to name the CircleCI project after; pass --set "
        "CIRCLE_PROJECT_REPONAME=REPO\n"
    )


def test_local_origin_on_another_host_asks_for_the_vcs(repo: Repo) -> None:
    repo.git("remote", "set-url", "origin", "https://deploy:s3cret@git.example.com/acme/shop.git")
    repo.git("checkout", "-q", "-b", "release")
    result = local(repo)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate: error: environment: cannot tell GitHub from Bitbucket by the "
        "checkout's origin remote (https://git.example.com/acme/shop.git), which is on "
        "neither github.com nor bitbucket.org; set circleci.vcs in the rules file, or pass "
        "--set CIRCLE_REPOSITORY_URL=https://github.com/ORG/REPO (or "
        "https://bitbucket.org/ORG/REPO)\n"
    )
    result = local(repo, "--json", "--set", "CIRCLE_REPOSITORY_URL=https://github.com/acme/shop")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["triggers"][0]["request"]["url"] == (
        "https://circleci.com/api/v2/project/gh/acme/shop/pipeline"
    )


def test_on_circleci_the_environment_is_used_not_the_checkout(repo: Repo) -> None:
    write(repo.path / ".circleci" / "deploy-gate.yml", LOCAL_RULES)
    result = run_gate(["--dry-run", "--json"], circle_env(CIRCLE_SHA1=None), repo.path)
    assert result.returncode == 2
    assert "CIRCLE_SHA1 is not set" in result.stderr
