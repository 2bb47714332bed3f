"""The API token: read from the environment only, and never shown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

MASK = "***"
DEFAULT_TOKEN_ENV = "CIRCLE_API_USER_TOKEN"


class Token:
    """Its repr and str are `***`, so no f-string or log line can show the value."""

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str) -> None:
        self._value = value
        self.name = name  # the variable it came from: safe to show

    def reveal(self) -> str:
        """For the one header that must carry it."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__


def read_token(environ: Mapping[str, str], name: str) -> Token:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment: {name} is not set; the gate needs a CircleCI API token there "
            "to fire a job (on a forked pull request CircleCI withholds it; "
            "circleci.token_env names another variable)"
        )
    problem = _unsendable(value)
    if problem:
        raise ConfigError(
            f"environment: {name} holds {problem}, which an HTTP header cannot carry "
            "(the value is not shown)"
        )
    return Token(value, name)


def _unsendable(value: str) -> str | None:
    """What in `value` an HTTP header cannot carry: checked before anything is sent, so
    no HTTP library gets to print the value in its own error."""
    for char in value:
        if char in "\r\n":
            return "a line break"
        if char < " " or "\x7f" <= char < "\xa0":
            return "a control character"
        if char > "\xff":
            return "a character outside Latin-1"
    return None


def secret_values(environ: Mapping[str, str], *names: str) -> list[str]:
    """What to redact: the token under each name it may be read from."""
    return [value for value in (environ.get(name, "").strip() for name in names) if value]


# A secret at least this long is redacted wherever it appears; a shorter one (a test
# token, a mistake) only where it stands alone, between non-word characters: replacing
# every `a` of a one-letter token would garble the output and still not hide it.
MIN_SUBSTRING = 8


def secret_forms(secret: str) -> list[str]:
    """Every form `secret` can take in output, longest first: raw, JSON-escaped (ASCII or
    not), repr-escaped (either quote) and URL-encoded (path and form style)."""
    import json
    from urllib.parse import quote, quote_plus

    inner = repr(secret)[1:-1]
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        inner,
        inner.replace("'", "\\'"),
        inner.replace('"', '\\"'),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return sorted((form for form in forms if form), key=lambda form: (-len(form), form))


class Redactor:
    """Replaces every form of every secret with MASK; built once per set of secrets."""

    __slots__ = ("_pattern",)
    _pattern: re.Pattern[str] | None

    def __init__(self, secrets: Iterable[str]) -> None:
        self._pattern = None
        forms = {form for secret in secrets if secret for form in secret_forms(secret)}
        if not forms:
            return  # nothing to hide: nothing imported (a skipping node's path)
        import re

        alternatives = [
            re.escape(form) if len(form) >= MIN_SUBSTRING else rf"(?<!\w){re.escape(form)}(?!\w)"
            for form in sorted(forms, key=lambda form: (-len(form), form))
        ]
        self._pattern = re.compile("|".join(alternatives))

    def text(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def value(self, value: object) -> object:
        """A document redacted by its structure: every string in it, keys too, so a short
        secret cannot break the JSON it is later serialized to."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every output path goes through this: a secret never reaches a log or a report."""
    return Redactor(secrets).text(text)
