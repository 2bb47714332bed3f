from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_deploy_gate.patterns import PatternError, path_matcher

SEGMENTS = ["a", "b", "ab", "c.md", "x y", "*", "**", "?", "[ab]", "[!a]*", "*.md", "!b"]
NAMES = ["a", "b", "ab", "c.md", "x y", "d.md", "!b", "é"]

patterns = st.lists(
    st.builds(
        lambda bang, lead, parts, slash: bang + lead + "/".join(parts) + slash,
        st.sampled_from(["", "", "!"]),
        st.sampled_from(["", "/"]),
        st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4),
        st.sampled_from(["", "/"]),
    ),
    min_size=1,
    max_size=4,
)
paths = st.lists(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=5).map("/".join),
    min_size=1,
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(patterns, paths)
def test_block_scan_agrees_with_pathspec_on_every_path(found: list[str], names: list[str]) -> None:
    try:
        matcher = path_matcher(found)
    except PatternError:
        return
    block = "\n".join(names) + "\n"
    expected = [name for name in names if matcher.match(name)]
    assert [m.group() for m in matcher.lines.finditer(block)] == expected
    assert [m.group() for m in matcher.outside.finditer(block)] == [
        name for name in names if not matcher.match(name)
    ]


@pytest.mark.parametrize(
    ("found", "path", "expected"),
    [
        (["src/*.py"], "src/a.py", True),
        (["src/*.py"], "src/x/a.py", False),  # * stays inside one folder
        (["src/**/*.py"], "src/x/y/a.py", True),  # ** crosses folders
        (["*.md"], "docs/deep/a.md", True),  # no slash: at any depth
        (["/*.md"], "docs/a.md", False),  # a leading / anchors at the top
        (["docs/"], "docs/a/b.md", True),  # a folder takes its contents
        (["src/**", "!src/gen/**"], "src/gen/a.py", False),  # ! excludes
        (["src/**", "!src/gen/**", "src/gen/keep.py"], "src/gen/keep.py", True),  # last wins
    ],
)
def test_gitignore_semantics(found: list[str], path: str, expected: bool) -> None:
    matcher = path_matcher(found)
    assert matcher.match(path) is expected
    assert bool(matcher.lines.fullmatch(path)) is expected
