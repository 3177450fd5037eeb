"""The HTTP app: the request sent, the response returned, errors, and the SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from docg_core.builtin import http as http_module
from docg_core.builtin.http import HttpApp, HttpRequestAction
from docg_core.errors import RetryableError, StepError, ValidationError
from docg_core.retry import classify_error
from docg_core.testing import run_action

APP = HttpApp()
REAL_RESOLVE_HOST = http_module.resolve_host

# What the fake resolver answers; anything else does not exist.
DNS = {
    "api.example.com": ["93.184.216.34"],
    "cdn.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
    "intranet.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "fd00::1"],
    "localhost": ["127.0.0.1", "::1"],
}

Handler = Callable[[httpx.Request], Any]


class Recorder:
    """A MockTransport handler answering from a function and keeping every request."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.answer(request)
        if asyncio.iscoroutine(response):
            response = await response
        assert isinstance(response, httpx.Response)
        return response


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    lookups: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return DNS[host]

    monkeypatch.setattr(http_module, "resolve_host", resolve)
    monkeypatch.delenv("DOCG_HTTP_ALLOW_HOSTS", raising=False)
    return lookups


async def call(answer: Handler | Recorder, **params: Any) -> Any:
    recorder = answer if isinstance(answer, Recorder) else Recorder(answer)
    return await run_action(APP, HttpRequestAction, params, transport=httpx.MockTransport(recorder))


def ok_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"request sent to {request.url}")


# --------------------------------------------------------------------------- request and answer


async def test_get_sends_method_url_query_and_headers() -> None:
    recorder = Recorder(ok_json)
    await call(
        recorder,
        url="https://api.example.com/v1/deals?archived=false",
        headers={"Authorization": "Bearer t0k", "X-Page-Size": 50},
        query={"tag": ["a", "b"], "page": 2},
    )
    (sent,) = recorder.requests
    assert sent.method == "GET"
    assert str(sent.url) == "https://api.example.com/v1/deals?archived=false&tag=a&tag=b&page=2"
    assert sent.headers["Authorization"] == "Bearer t0k"
    assert sent.headers["X-Page-Size"] == "50"
    assert sent.headers["User-Agent"] == "docg-core"
    assert sent.content == b""
    assert "Content-Type" not in sent.headers


async def test_json_response_body_is_parsed() -> None:
    result = await call(ok_json, url="https://api.example.com/")
    assert result.data["status"] == 200
    assert result.data["body"] == {"ok": True}
    assert result.data["headers"]["content-type"] == "application/json"
    assert result.raw == result.data


async def test_json_suffix_media_type_is_parsed() -> None:
    result = await call(
        lambda r: httpx.Response(
            200, content=b'{"title": "x"}', headers={"Content-Type": "application/problem+json"}
        ),
        url="https://api.example.com/",
    )
    assert result.data["body"] == {"title": "x"}


async def test_text_response_body_is_text() -> None:
    result = await call(
        lambda r: httpx.Response(200, text="olá, mundo"), url="https://api.example.com/"
    )
    assert result.data["body"] == "olá, mundo"
    assert result.data["headers"]["content-type"] == "text/plain; charset=utf-8"


async def test_invalid_json_with_json_content_type_is_returned_as_text() -> None:
    result = await call(
        lambda r: httpx.Response(
            200, content=b"{oops", headers={"Content-Type": "application/json"}
        ),
        url="https://api.example.com/",
    )
    assert result.data["body"] == "{oops"


async def test_post_object_body_is_sent_as_json() -> None:
    recorder = Recorder(ok_json)
    await call(
        recorder, method="POST", url="https://api.example.com/deals", body={"name": "Ana", "n": 1}
    )
    (sent,) = recorder.requests
    assert sent.method == "POST"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {"name": "Ana", "n": 1}


async def test_json_text_body_is_sent_as_json() -> None:
    recorder = Recorder(ok_json)
    await call(recorder, method="PUT", url="https://api.example.com/x", body='[1, "dois"]')
    (sent,) = recorder.requests
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == [1, "dois"]


async def test_text_body_is_sent_as_text() -> None:
    recorder = Recorder(ok_json)
    await call(recorder, method="POST", url="https://api.example.com/x", body="olá")
    (sent,) = recorder.requests
    assert sent.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert sent.content == "olá".encode()


async def test_form_body_is_url_encoded() -> None:
    recorder = Recorder(ok_json)
    await call(
        recorder,
        method="PATCH",
        url="https://api.example.com/x",
        body={"name": "Ana Sá", "tag": ["a", "b"], "active": True},
        body_type="form",
    )
    (sent,) = recorder.requests
    assert sent.method == "PATCH"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.content == b"name=Ana+S%C3%A1&tag=a&tag=b&active=true"


async def test_content_type_header_overrides_the_body_type() -> None:
    recorder = Recorder(ok_json)
    await call(
        recorder,
        method="POST",
        url="https://api.example.com/x",
        headers={"content-type": "application/vnd.api+json"},
        body={"a": 1},
    )
    (sent,) = recorder.requests
    assert sent.headers.get_list("Content-Type") == ["application/vnd.api+json"]


async def test_head_returns_an_empty_body() -> None:
    recorder = Recorder(lambda r: httpx.Response(200, headers={"ETag": '"v1"'}))
    result = await call(recorder, method="HEAD", url="https://api.example.com/file")
    assert recorder.requests[0].method == "HEAD"
    assert result.data == {"status": 200, "headers": {"etag": '"v1"'}, "body": ""}


async def test_delete_sends_delete() -> None:
    recorder = Recorder(lambda r: httpx.Response(204))
    result = await call(recorder, method="DELETE", url="https://api.example.com/x/1")
    assert recorder.requests[0].method == "DELETE"
    assert result.data["status"] == 204


async def test_timeout_is_applied_to_the_request() -> None:
    recorder = Recorder(ok_json)
    await call(recorder, url="https://api.example.com/", timeout=45)
    assert recorder.requests[0].extensions["timeout"] == {
        "connect": 45.0,
        "read": 45.0,
        "write": 45.0,
        "pool": 45.0,
    }


async def test_slow_answer_is_a_retryable_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(RetryableError, match=r"took longer than the timeout of 0.05 s") as info:
        await call(slow, url="https://api.example.com/", timeout=0.05)
    assert info.value.code == "timeout"


async def test_timeout_above_the_maximum_is_a_step_error_naming_timeout() -> None:
    with pytest.raises(StepError, match=r"^timeout: at most 120 seconds"):
        await call(never_called, url="https://api.example.com/", timeout=300)


async def test_unknown_method_is_a_validation_error_naming_method() -> None:
    with pytest.raises(ValidationError) as info:
        await call(never_called, method="TRACE", url="https://api.example.com/")
    assert [p.field for p in info.value.problems] == ["method"]


async def test_headers_that_are_not_an_object_are_a_step_error_naming_headers() -> None:
    with pytest.raises(StepError, match=r"^headers: expected an object"):
        await call(never_called, url="https://api.example.com/", headers=["Accept: */*"])


async def test_missing_url_is_a_validation_error_naming_url() -> None:
    with pytest.raises(ValidationError) as info:
        await call(never_called, method="GET")
    assert [p.field for p in info.value.problems] == ["url"]


async def test_relative_url_is_a_step_error_naming_url() -> None:
    with pytest.raises(StepError, match=r"^url: '/v1/deals' is not an absolute URL"):
        await call(never_called, url="/v1/deals")


# -------------------------------------------------------------------------------- error status


async def test_4xx_raises_and_is_not_retryable() -> None:
    answer = Recorder(lambda r: httpx.Response(404, json={"error": "deal not found"}))
    with pytest.raises(httpx.HTTPStatusError) as info:
        await call(answer, url="https://api.example.com/deals/9")
    error = classify_error(info.value)
    assert type(error) is StepError
    assert error.code == "http_404"
    assert "deal not found" in error.message


async def test_429_with_retry_after_is_retryable_after_that_delay() -> None:
    answer = Recorder(lambda r: httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"))
    with pytest.raises(httpx.HTTPStatusError) as info:
        await call(answer, url="https://api.example.com/")
    error = classify_error(info.value)
    assert isinstance(error, RetryableError)
    assert error.retry_after == 7.0
    assert error.code == "http_429"


async def test_5xx_is_retryable() -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        await call(lambda r: httpx.Response(503), url="https://api.example.com/")
    assert isinstance(classify_error(info.value), RetryableError)


async def test_fail_on_error_false_returns_the_error_answer_as_data() -> None:
    result = await call(
        lambda r: httpx.Response(422, json={"errors": ["email"]}),
        method="POST",
        url="https://api.example.com/contacts",
        body={"email": "x"},
        fail_on_error=False,
    )
    assert result.data["status"] == 422
    assert result.data["body"] == {"errors": ["email"]}


# ---------------------------------------------------------------------------------------- SSRF


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://10.0.0.5:8080/admin", "10.0.0.5"),
        ("http://172.16.4.4/", "172.16.4.4"),
        ("http://192.168.0.1/", "192.168.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://240.0.0.1/", "240.0.0.1"),
        ("http://[::1]/", "::1"),
        ("http://[::]/", "::"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fd00::1]/", "fd00::1"),
        ("http://[ff02::1]/", "ff02::1"),
        ("http://[2002:a00:1::1]/", "2002:a00:1::1"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),
    ],
)
async def test_non_public_address_is_refused(url: str, address: str) -> None:
    with pytest.raises(StepError) as info:
        await call(never_called, url=url)
    error = info.value
    assert not isinstance(error, RetryableError)
    assert error.code == "blocked_address"
    assert f" is {address}, a " in error.message
    assert "DOCG_HTTP_ALLOW_HOSTS" in error.message


def test_embedded_private_ipv4_is_refused_and_public_ipv6_is_not() -> None:
    blocked = http_module.blocked_reason
    assert blocked(ipaddress.IPv6Address("64:ff9b::a00:1")) is not None
    assert blocked(ipaddress.IPv6Address("2606:2800:220:1:248:1893:25c8:1946")) is None


async def test_hostname_resolving_to_a_private_address_is_refused(
    fake_dns: list[tuple[str, int]],
) -> None:
    with pytest.raises(StepError, match=r"intranet.example.com resolves to 10.1.2.3") as info:
        await call(never_called, url="https://intranet.example.com/")
    assert info.value.code == "blocked_address"
    assert "add intranet.example.com or a CIDR holding 10.1.2.3" in info.value.message
    assert fake_dns == [("intranet.example.com", 443)]


async def test_hostname_with_any_private_address_is_refused() -> None:
    with pytest.raises(StepError, match="resolves to fd00::1, a private address"):
        await call(never_called, url="http://mixed.example.com/")


async def test_localhost_is_refused() -> None:
    with pytest.raises(StepError, match=r"localhost resolves to 127.0.0.1, a loopback address"):
        await call(never_called, url="http://localhost:8000/")


async def test_decimal_ip_host_resolving_to_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_module, "resolve_host", REAL_RESOLVE_HOST)  # numeric: no DNS needed
    with pytest.raises(StepError, match=r"2130706433 resolves to 127.0.0.1, a loopback address"):
        await call(never_called, url="http://2130706433/")


async def test_unresolvable_host_is_a_retryable_network_error() -> None:
    with pytest.raises(RetryableError, match=r"could not resolve nowhere.example.com") as info:
        await call(never_called, url="https://nowhere.example.com/")
    assert info.value.code == "network"


@pytest.mark.parametrize("url", ["ftp://api.example.com/file", "file:///etc/passwd"])
async def test_non_http_scheme_is_refused(url: str) -> None:
    with pytest.raises(StepError, match="only http and https URLs are allowed") as info:
        await call(never_called, url=url)
    assert info.value.code == "blocked_url"


async def test_allow_list_by_hostname_lets_the_host_through(
    monkeypatch: pytest.MonkeyPatch, fake_dns: list[tuple[str, int]]
) -> None:
    monkeypatch.setenv("DOCG_HTTP_ALLOW_HOSTS", "other.internal, Intranet.Example.com")
    result = await call(ok_json, url="https://intranet.example.com/api")
    assert result.data["status"] == 200
    assert fake_dns == []


async def test_allow_list_by_cidr_lets_its_addresses_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCG_HTTP_ALLOW_HOSTS", "10.0.0.0/8")
    assert (await call(ok_json, url="https://intranet.example.com/")).data["status"] == 200
    assert (await call(ok_json, url="http://10.9.9.9:8080/")).data["status"] == 200


async def test_allow_list_by_cidr_refuses_addresses_outside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCG_HTTP_ALLOW_HOSTS", "10.0.0.0/8")
    with pytest.raises(StepError, match=r"192.168.0.1, a private address"):
        await call(never_called, url="http://192.168.0.1/")


async def test_allow_list_by_ip_covers_its_ipv4_mapped_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCG_HTTP_ALLOW_HOSTS", "127.0.0.1,[::1]")
    assert (await call(ok_json, url="http://127.0.0.1:9000/")).data["status"] == 200
    assert (await call(ok_json, url="http://[::ffff:127.0.0.1]/")).data["status"] == 200
    assert (await call(ok_json, url="http://[::1]/")).data["status"] == 200


async def test_bad_allow_list_entry_is_a_step_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCG_HTTP_ALLOW_HOSTS", "10.0.0.0/33")
    with pytest.raises(StepError, match=r"^DOCG_HTTP_ALLOW_HOSTS: '10.0.0.0/33' is not"):
        await call(never_called, url="https://api.example.com/")


# ----------------------------------------------------------------------------------- redirects


def redirect_to(location: str, status: int = 302) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.example.com":
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200, text=f"at {request.url}")

    return answer


async def test_redirect_to_a_public_host_is_followed() -> None:
    recorder = Recorder(redirect_to("https://cdn.example.com/file.txt", 301))
    result = await call(recorder, url="https://api.example.com/download")
    assert [str(r.url) for r in recorder.requests] == [
        "https://api.example.com/download",
        "https://cdn.example.com/file.txt",
    ]
    assert result.data["body"] == "at https://cdn.example.com/file.txt"
    assert result.metadata["url"] == "https://cdn.example.com/file.txt"


async def test_see_other_after_post_follows_with_get_and_no_body() -> None:
    recorder = Recorder(redirect_to("https://cdn.example.com/result", 303))
    await call(recorder, method="POST", url="https://api.example.com/jobs", body={"a": 1})
    assert [(r.method, r.content) for r in recorder.requests] == [
        ("POST", b'{"a": 1}'),
        ("GET", b""),
    ]


async def test_redirect_to_a_private_address_is_refused() -> None:
    recorder = Recorder(redirect_to("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(StepError, match=r"169.254.169.254, a link-local address") as info:
        await call(recorder, url="https://api.example.com/")
    assert info.value.code == "blocked_address"
    assert len(recorder.requests) == 1


async def test_redirect_to_a_host_resolving_privately_is_refused() -> None:
    recorder = Recorder(redirect_to("https://intranet.example.com/admin"))
    with pytest.raises(StepError, match=r"intranet.example.com resolves to 10.1.2.3"):
        await call(recorder, url="https://api.example.com/")
    assert len(recorder.requests) == 1


async def test_redirect_to_another_scheme_is_refused() -> None:
    recorder = Recorder(redirect_to("ftp://cdn.example.com/file"))
    with pytest.raises(StepError, match="only http and https URLs are allowed"):
        await call(recorder, url="https://api.example.com/")


async def test_more_than_five_redirects_is_a_step_error() -> None:
    recorder = Recorder(lambda r: httpx.Response(302, headers={"Location": r.url.path + "x"}))
    with pytest.raises(StepError, match=r"too many redirects \(more than 5\)") as info:
        await call(recorder, url="https://api.example.com/a")
    assert info.value.code == "too_many_redirects"
    assert len(recorder.requests) == 6


# ------------------------------------------------------------------------------- response size


async def test_declared_oversize_response_is_refused() -> None:
    size = http_module.MAX_RESPONSE_BYTES + 1
    answer = Recorder(lambda r: httpx.Response(200, headers={"Content-Length": str(size)}))
    with pytest.raises(StepError, match="larger than 10 MB") as info:
        await call(answer, url="https://api.example.com/big")
    assert info.value.code == "response_too_large"


async def test_endless_response_stops_reading_past_the_limit() -> None:
    chunk = b"x" * 65536
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent.append(len(chunk))
            yield chunk

    answer = Recorder(lambda r: httpx.Response(200, content=endless()))
    with pytest.raises(StepError, match="larger than 10 MB") as info:
        await call(answer, url="https://api.example.com/stream")
    assert info.value.code == "response_too_large"
    assert sum(sent) <= http_module.MAX_RESPONSE_BYTES + len(chunk)


async def test_response_at_the_limit_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module, "MAX_RESPONSE_BYTES", 1000)
    result = await call(
        lambda r: httpx.Response(200, text="y" * 1000), url="https://api.example.com/"
    )
    assert result.data["body"] == "y" * 1000


# ------------------------------------------------------------------------------------- the app


def test_http_app_describes_its_request_action() -> None:
    described = APP.to_dict()
    assert (described["key"], described["name"]) == ("http", "HTTP")
    (action,) = described["actions"]
    assert action["key"] == "request"
    properties = action["arguments"]["properties"]
    assert list(properties) == [
        "method",
        "url",
        "headers",
        "query",
        "body",
        "body_type",
        "timeout",
        "fail_on_error",
    ]
    assert properties["method"]["enum"] == ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    assert properties["timeout"]["default"] == 30.0
    assert properties["fail_on_error"]["default"] is True
    assert action["arguments"]["required"] == ["url"]
    assert properties["method"]["default"] == "GET"
