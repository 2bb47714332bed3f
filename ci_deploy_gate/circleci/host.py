"""Which CircleCI host the gate may talk to: https anywhere, plain http only on loopback."""

from __future__ import annotations

DEFAULT_API_URL = "https://circleci.com"


def is_loopback(host: str) -> bool:
    """`localhost`, or an address in 127.0.0.0/8 or ::1, parsed: `127.evil.example` is not."""
    from ipaddress import ip_address

    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """The URL's host is loopback: no proxy may stand between the gate and it."""
    from urllib.parse import urlsplit

    try:
        return is_loopback(urlsplit(url).hostname or "")
    except ValueError:
        return False


def _authority(url: str) -> str:
    """The `user:password@host:port` part, found without a parser that could fail first."""
    before, slashes, rest = url.partition("//")
    if not slashes:
        rest = before  # `user:pass@host`, no scheme: refused as well, and not shown
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


def check_api_url(url: str) -> str | None:
    """None when `url` is usable; else why not. The token travels to this host.

    A URL carrying a user name or password is refused before anything shows it."""
    from urllib.parse import urlsplit  # not on the default path: most files name no host

    if "@" in _authority(url):
        return (
            "holds a user name or password before '@' (the URL is not shown): the gate "
            f"sends only the API token; give the bare host URL, such as {DEFAULT_API_URL}"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an http(s) URL such as {DEFAULT_API_URL}"
    if parts.scheme == "http" and not is_loopback(host):
        return f"{url!r} would send the API token unencrypted: use https (http only on loopback)"
    if parts.query or parts.fragment:
        return f"{url!r} must be a bare host URL, without '?' or '#'"
    return None
