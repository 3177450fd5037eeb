"""The HTTP app: one request to a public URL, guarded against server-side request forgery.

Every hop (the first request and each redirect) is checked before it is sent: the scheme must
be http or https, and the host must neither be nor resolve to a private, loopback, link-local,
reserved, multicast, unspecified or otherwise non-global address (IPv4 and IPv6, including
IPv4 embedded in IPv6). Hosts, IPs and CIDRs listed in the environment variable
``DOCG_HTTP_ALLOW_HOSTS`` (comma-separated, read at every call) are exempt.

Known limit: the address is checked before httpx connects and httpx resolves the name again,
so a DNS server answering differently within that instant (DNS rebinding) is not caught here;
pinning the checked address needs a guard at the transport level.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    BaseAction,
    BaseApp,
    DropdownOption,
)
from docg_core.errors import RetryableError, StepError

if TYPE_CHECKING:
    from docg_core.context import ExecutionContext

__all__ = ["HttpApp", "HttpRequestAction", "resolve_host"]

ALLOW_HOSTS_ENV = "DOCG_HTTP_ALLOW_HOSTS"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
BODY_TYPES = ("json", "form", "text")
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 120.0
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 10 * 1024 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses ``host`` resolves to, from the event loop's non-blocking getaddrinfo.

    Module-level so tests (which have no DNS) can monkeypatch it.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class _BodyArgument(ActionArgument):
    """A JSON argument that also takes plain text: text holding a JSON object or array is
    parsed, any other text is kept as text (``ArgumentType.JSON`` would reject it)."""

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                return value
            return parsed if isinstance(parsed, dict | list) else value
        return value


def _invalid(argument: str, message: str) -> StepError:
    return StepError(
        f"{argument}: {message}", code="invalid_argument", details={"argument": argument}
    )


# ----------------------------------------------------------------------------- address checks


@dataclass(frozen=True)
class _AllowList:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    def allows_ip(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


def _allow_list() -> _AllowList:
    """The allow-list from ``DOCG_HTTP_ALLOW_HOSTS``, read now (so a change needs no restart)."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in os.environ.get(ALLOW_HOSTS_ENV, "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        bare = entry.removeprefix("[").removesuffix("]")
        try:
            if "/" in bare:
                networks.append(ipaddress.ip_network(bare, strict=False))
            else:
                networks.append(ipaddress.ip_network(ipaddress.ip_address(bare)))
            continue
        except ValueError:
            if "/" in bare or ":" in bare:
                raise StepError(
                    f"{ALLOW_HOSTS_ENV}: {raw.strip()!r} is not a hostname, IP address or CIDR",
                    code="bad_allow_list",
                ) from None
        hosts.add(entry.rstrip("."))
    return _AllowList(frozenset(hosts), tuple(networks))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def _kind_of(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be called (``"loopback"``, ``"private"`` …), or None if it is public."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused, looking inside IPv6 at embedded IPv4 too; None if it is public."""
    kind = _kind_of(ip)
    if kind is not None:
        return kind
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            inner_kind = _kind_of(inner)
            if inner_kind is not None:
                return f"{inner_kind} (IPv4 {inner} inside IPv6)"
    return None


def _display_url(url: httpx.URL) -> str:
    """The URL without credentials, query or fragment, which may hold secrets."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _ip_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_scheme(url: httpx.URL) -> None:
    shown = _display_url(url)
    if url.scheme and url.scheme not in ("http", "https"):
        raise StepError(
            f"refused to call {shown}: only http and https URLs are allowed",
            code="blocked_url",
            details={"url": shown},
        )
    if not url.scheme or not url.host:
        raise _invalid("url", f"{shown!r} is not an absolute URL (https://host/path)")


async def check_url(url: httpx.URL) -> None:
    """Refuse (StepError, not retried) a URL that is not http(s) or points at a non-public
    address not allowed by ``DOCG_HTTP_ALLOW_HOSTS``."""
    _check_scheme(url)
    shown = _display_url(url)
    host = url.host.rstrip(".")
    allow = _allow_list()
    if host in allow.hosts:
        return
    literal = _ip_or_none(host)
    if literal is not None:
        addresses, how = [literal], "is"
    else:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            resolved = await resolve_host(host, port)
        except OSError as exc:
            raise RetryableError(f"could not resolve {host}: {exc}", code="network") from None
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
        if not addresses:
            raise RetryableError(f"could not resolve {host}: no address", code="network")
        how = "resolves to"
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason is None or allow.allows_ip(ip):
            continue
        raise StepError(
            f"refused to call {shown}: {host} {how} {ip}, a {reason} address. "
            f"To allow it, add {host if how == 'resolves to' else ip} or a CIDR holding {ip} "
            f"to the environment variable {ALLOW_HOSTS_ENV} (comma-separated hostnames, IPs "
            "or CIDRs).",
            code="blocked_address",
            details={"url": shown, "host": host, "address": str(ip), "reason": reason},
        )


# ------------------------------------------------------------------------------------ request


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(
            "headers", f'expected an object such as {{"Accept": "text/csv"}}, got {value!r}'
        )
    headers: dict[str, str] = {}
    for name, item in value.items():
        if item is None:
            continue
        if isinstance(item, bool):
            item = "true" if item else "false"
        if not isinstance(item, str | int | float):
            raise _invalid("headers", f"the value of {name!r} must be text, got {item!r}")
        headers[str(name)] = str(item)
    return headers


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _query(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid("query", f'expected an object such as {{"page": 2}}, got {value!r}')
    for name, item in value.items():
        if not (_scalar(item) or (isinstance(item, list) and all(map(_scalar, item)))):
            raise _invalid("query", f"the value of {name!r} must be text, a number or a list")
    return {str(k): v for k, v in value.items()}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _encode_body(body: Any, body_type: str | None) -> tuple[bytes | None, str | None]:
    """The request content and its default Content-Type (none for an empty body)."""
    if body is None or body == "":
        return None, None
    if body_type is None:
        body_type = "text" if isinstance(body, str) else "json"
    if body_type == "form":
        if isinstance(body, str):
            return body.encode(), "application/x-www-form-urlencoded"
        if not isinstance(body, Mapping):
            raise _invalid("body", "a form body must be an object of fields")
        pairs = [
            (str(k), _form_value(item))
            for k, v in body.items()
            for item in (v if isinstance(v, list) else [v])
        ]
        return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    if isinstance(body, str):
        text = body
    else:
        try:
            text = json.dumps(body, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise _invalid("body", f"cannot be sent as JSON: {exc}") from None
    if body_type == "json":
        return text.encode(), "application/json"
    return text.encode(), "text/plain; charset=utf-8"


def _timeout(value: Any) -> float:
    seconds = DEFAULT_TIMEOUT if value is None else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise _invalid("timeout", f"expected a number of seconds above 0, got {value!r}")
    if seconds > MAX_TIMEOUT:
        raise _invalid("timeout", f"at most {MAX_TIMEOUT:g} seconds, got {seconds:g}")
    return float(seconds)


async def _read_limited(response: httpx.Response, shown: str) -> bytes:
    """The (decoded) body, refused once it passes ``MAX_RESPONSE_BYTES`` without reading on."""
    limit_mb = f"{MAX_RESPONSE_BYTES / (1024 * 1024):g} MB"
    error = StepError(
        f"the response from {shown} is larger than {limit_mb}; ask the server for less "
        "(a page, a filter) or download the file through a storage action",
        code="response_too_large",
        details={"url": shown, "limit_bytes": MAX_RESPONSE_BYTES},
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise error
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise error
        chunks.append(chunk)
    return b"".join(chunks)


async def _send(client: httpx.AsyncClient, request: httpx.Request) -> tuple[httpx.Response, bytes]:
    """Send ``request``, following up to ``MAX_REDIRECTS`` redirects, checking every hop."""
    for _hop in range(MAX_REDIRECTS + 1):
        await check_url(request.url)
        response = await client.send(request, follow_redirects=False, stream=True)
        try:
            if response.next_request is None:
                return response, await _read_limited(response, _display_url(request.url))
            request = response.next_request
        finally:
            await response.aclose()
    raise StepError(
        f"too many redirects (more than {MAX_REDIRECTS}); last one to {_display_url(request.url)}",
        code="too_many_redirects",
    )


def _is_json(response: httpx.Response) -> bool:
    header: str = response.headers.get("Content-Type", "")
    media_type = header.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _decode_body(response: httpx.Response, content: bytes) -> Any:
    encoding = response.charset_encoding or "utf-8"
    try:
        text = content.decode(encoding, errors="replace")
    except LookupError:  # an unknown charset name
        text = content.decode("utf-8", errors="replace")
    if content and _is_json(response):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text


def _raise_for_status(response: httpx.Response, content: bytes) -> None:
    """``raise_for_status`` on a copy holding the body read, so the error can quote it."""
    if response.is_success:
        return
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    httpx.Response(
        response.status_code, headers=headers, content=content, request=response.request
    ).raise_for_status()


class HttpRequestAction(BaseAction):
    """Send one HTTP request and return its status, headers and body."""

    key = "request"
    name = "Request"
    description = (
        "Call any public HTTP API. Private and local addresses are refused unless listed in "
        f"{ALLOW_HOSTS_ENV}."
    )
    arguments = (
        ActionArgument(
            key="method",
            label="Method",
            type=ArgumentType.DROPDOWN,
            default="GET",
            options=tuple(DropdownOption(m) for m in METHODS),
        ),
        ActionArgument(
            key="url",
            label="URL",
            required=True,
            description="Absolute http or https URL.",
        ),
        ActionArgument(
            key="headers",
            label="Headers",
            type=ArgumentType.JSON,
            description='An object of header names and values: {"Accept": "text/csv"}.',
        ),
        ActionArgument(
            key="query",
            label="Query parameters",
            type=ArgumentType.JSON,
            description='An object added to the URL\'s query: {"page": 2, "tag": ["a", "b"]}.',
        ),
        _BodyArgument(
            key="body",
            label="Body",
            type=ArgumentType.JSON,
            description="An object or list is sent as JSON, text as text (see body type).",
        ),
        ActionArgument(
            key="body_type",
            label="Body type",
            type=ArgumentType.DROPDOWN,
            options=(
                DropdownOption("json", "JSON"),
                DropdownOption("form", "Form (URL-encoded)"),
                DropdownOption("text", "Text"),
            ),
            description="How to encode the body; by default JSON for objects and lists, "
            "text for text. A Content-Type header overrides the one it implies.",
        ),
        ActionArgument(
            key="timeout",
            label="Timeout (seconds)",
            type=ArgumentType.NUMBER,
            default=DEFAULT_TIMEOUT,
            description=f"For the whole request, redirects included; at most {MAX_TIMEOUT:g}.",
        ),
        ActionArgument(
            key="fail_on_error",
            label="Fail on error status",
            type=ArgumentType.BOOLEAN,
            default=True,
            description="Fail the step on a 4xx or 5xx answer (429 and 5xx are retried). "
            "When off, the error answer is returned as data.",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Send the request through ``ctx.http``; data ``{"status", "headers", "body"}``."""
        params = ctx.step.parameters
        method = str(params.get("method") or "GET").upper()
        url = str(params["url"]).strip()
        headers = _headers(params.get("headers"))
        query = _query(params.get("query"))
        timeout = _timeout(params.get("timeout"))
        content, content_type = _encode_body(params.get("body"), params.get("body_type"))
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise _invalid("url", f"{url!r} is not a valid URL: {exc}") from None
        # Checked before the client joins it to its base URL, which drops e.g. file:// schemes.
        _check_scheme(target)
        if query:
            target = target.copy_merge_params(query)  # build_request(params=) would replace
        request = ctx.http.build_request(
            method, target, headers=headers, content=content, timeout=timeout
        )
        shown = _display_url(request.url)
        try:
            async with asyncio.timeout(timeout):
                response, body = await _send(ctx.http, request)
        except TimeoutError:
            raise RetryableError(
                f"{method} {shown} took longer than the timeout of {timeout:g} s", code="timeout"
            ) from None
        if params.get("fail_on_error", True):
            _raise_for_status(response, body)
        result = {
            "status": response.status_code,
            "headers": dict(response.headers.items()),
            "body": _decode_body(response, body),
        }
        return ActionResult(
            raw=dict(result), data=result, metadata={"url": _display_url(response.request.url)}
        )


class HttpApp(BaseApp):
    """Built-in app for calling any public HTTP API."""

    key = "http"
    name = "HTTP"
    description = "Send HTTP requests to public APIs."
    actions = (HttpRequestAction,)
