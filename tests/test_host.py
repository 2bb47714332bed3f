from __future__ import annotations

import pytest

from ci_deploy_gate.circleci.host import check_api_url


@pytest.mark.parametrize(
    "url",
    [
        "https://circleci.com",
        "https://circleci.example.com:8443/",
        "http://127.0.0.1:8080",
        "http://localhost:5000",
        "http://[::1]:9000",
        "http://127.1.2.3",
        "http://LOCALHOST:1",
        "https://circleci.com/path@not-credentials",
    ],
)
def test_usable_api_urls(url: str) -> None:
    assert check_api_url(url) is None


CREDENTIALS = (
    "holds a user name or password before '@' (the URL is not shown): the gate sends only "
    "the API token; give the bare host URL, such as https://circleci.com"
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://circleci.com",
            "'http://circleci.com' would send the API token unencrypted: "
            "use https (http only on loopback)",
        ),
        ("circleci.com", "'circleci.com' is not an http(s) URL such as https://circleci.com"),
        (
            "ftp://circleci.com",
            "'ftp://circleci.com' is not an http(s) URL such as https://circleci.com",
        ),
        (
            "https://circleci.com?x=1",
            "'https://circleci.com?x=1' must be a bare host URL, without '?' or '#'",
        ),
        (
            "http://127.evil.example",
            "'http://127.evil.example' would send the API token unencrypted: "
            "use https (http only on loopback)",
        ),
        (
            "http://localhost.evil.example:80",
            "'http://localhost.evil.example:80' would send the API token unencrypted: "
            "use https (http only on loopback)",
        ),
        ("https://user:s3cret@circleci.com", CREDENTIALS),
        ("https://s3cret-token@circleci.com/", CREDENTIALS),
        ("http://u:p@127.0.0.1:8080", CREDENTIALS),
        ("https://u:p@circleci.com:port", CREDENTIALS),
        ("u:s3cret@circleci.com", CREDENTIALS),
        (
            "https://circleci.com:port",
            "'https://circleci.com:port' is not a URL: Port could not "
            "be cast to integer value as 'port'",
        ),
    ],
)
def test_refused_api_urls(url: str, message: str) -> None:
    assert check_api_url(url) == message
