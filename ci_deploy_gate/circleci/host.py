"""Which CircleCI host the gate may talk to: https anywhere, plain http only on loopback."""

from __future__ import annotations

DEFAULT_API_URL = "https://circleci.com"
_LOOPBACK_NAMES = ("localhost", "::1")


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.startswith("127.")


def check_api_url(url: str) -> str | None:
    """None when `url` is usable; else why not. The token travels to this host."""
    from urllib.parse import urlsplit  # not on the default path: most files name no host

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an http(s) URL such as {DEFAULT_API_URL}"
    if parts.scheme == "http" and not _is_loopback(host):
        return f"{url!r} would send the API token unencrypted: use https (http only on loopback)"
    if parts.query or parts.fragment:
        return f"{url!r} must be a bare host URL, without '?' or '#'"
    return None
