"""Templated trigger values: `${sha}`, `${ref}`, `${env.NAME}` in a parameter value or a
trigger's branch or tag, so a pipeline gets this build's values (`frontend_version:
${sha}`) rather than constants.

The names are the fact table's text facts read from the environment (`context.FACTS`),
and `env.NAME`; git facts are not, nor is the API token's variable. `$$` is a literal `$`.
A name is checked when the rules file loads; a fact unset on the build is an error when
the value is expanded, never an empty string.
"""

from __future__ import annotations

import re

from ci_deploy_gate.context import ENV_FACTS, ENV_PREFIX, FACTS
from ci_deploy_gate.errors import suggest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection

# `$$`, `${name}`, or a `$` that is neither (an error: `$CIRCLE_SHA1` is a shell habit)
_PIECE = re.compile(r"\$\$|\$\{([^}]*)\}|\$")
TEXT_FACTS = tuple(name for name in ENV_FACTS if FACTS[name].kind == "text")


class TemplateError(ValueError):
    """A template that names nothing the gate can fill in; the text says what to write."""


class Unset(ValueError):
    """A name that has no value on this build."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def names(text: str, *, secret: Collection[str] = ()) -> list[str]:
    """The names `text` fills in, in order; TemplateError for anything else. `secret`: the
    variables that hold a token, which a template must never send."""
    found = []
    for piece in _PIECE.finditer(text):
        if piece.group() == "$$":
            continue
        name = piece.group(1)
        if name is None:
            rest = re.match(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text[piece.start() :])
            hint = f"${{env.{rest.group(1)}}}" if rest else "${sha}"
            raise TemplateError(
                f"{text!r}: a '$' starts a template such as {hint}; write $$ for a '$' itself"
            )
        found.append(_checked(name.strip(), text, secret))
    return found


def _checked(name: str, text: str, secret: Collection[str]) -> str:
    if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
        if name[len(ENV_PREFIX) :] in secret:
            raise TemplateError(f"{text!r}: ${{{name}}} is an API token's variable: never sent")
        return name
    if name in TEXT_FACTS:
        return name
    if name in FACTS:
        raise TemplateError(
            f"{text!r}: ${{{name}}} cannot be filled in: a template takes the build's text "
            f"facts ({', '.join(TEXT_FACTS)}) and env.NAME"
        )
    hint = suggest(name, [*TEXT_FACTS, "env.NAME"]) or f"known: {', '.join(TEXT_FACTS)}, env.NAME"
    raise TemplateError(f"{text!r}: unknown name ${{{name}}} ({hint})")


def expand(text: str, value: Callable[[str], str | None]) -> str:
    """`text` with each name replaced by `value(name)`; Unset for a name with none."""

    def fill(piece: re.Match[str]) -> str:
        if piece.group() == "$$":
            return "$"
        name = piece.group(1).strip()
        found = value(name)
        if not found:
            raise Unset(name)
        return found

    return _PIECE.sub(fill, text)
