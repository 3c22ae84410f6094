"""`km.request`: call an endpoint the library does not wrap, through the same pipeline.

Modelled on openai-python's "custom/undocumented requests": the same credentials
per host family (`Api-Key`, `chat_auth`, a logged-in user's token), retries (only
for idempotent methods), the whole-call deadline, the 429 pause, the reply size cap,
redaction, the DEBUG log line and the typed errors of every wrapped call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

import msgspec

from ._codec import decoder_for
from ._errors import APIError, InvalidRequestError
from ._explain import explain, request_id_of
from ._pipeline.reply import NoResult, reply_decoder
from ._pipeline.routing import Host, Route
from ._pipeline.transport import HttpReply
from ._validate import check_header_value

if TYPE_CHECKING:
    from ._pipeline.client import ApiClient

__all__ = ["HostName", "RawResponse", "send_request"]

T = TypeVar("T")

HostName = Literal["services", "chat", "app"]
_HOSTS: Final[dict[str, Host]] = {
    "services": Host.PLATFORM,
    "chat": Host.CHAT,
    "app": Host.APP,
}
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Repeating these is harmless (RFC 9110 9.2.2); POST and PATCH are never retried
# blindly: a failure after they may have landed is `ambiguous`.
_IDEMPOTENT: Final = frozenset({"GET", "PUT", "DELETE"})
_ANY: Final = decoder_for(Any)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A reply as received: `status`, `headers`, `request_id` and `parsed` (the
    decoded result: JSON, or the text of a plain-text reply), plus the `body`."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    request_id: str | None
    parsed: object
    body: bytes = field(repr=False)


def _route(method: object, path: str, host: str) -> Route:
    if not isinstance(method, str):
        raise InvalidRequestError(f"method must be a str, not {method!r}")
    if method.upper() not in _METHODS:
        raise InvalidRequestError(
            f"method must be one of {', '.join(sorted(_METHODS))}, not {method!r}"
        )
    verb = method.upper()
    if host not in _HOSTS:
        raise InvalidRequestError(
            f'host must be "services", "chat" or "app", not {host!r}'
        )
    check_header_value(path, "path")
    if not path.startswith("/") or path.startswith("//"):
        raise InvalidRequestError(f"path must start with one '/', not {path!r}")
    if any(c in path for c in "?#") or "/../" in path or path.endswith("/.."):
        raise InvalidRequestError(
            "path must not hold a query, a fragment or '..': pass params="
        )
    return Route(verb, path, _HOSTS[host], idempotent=verb in _IDEMPOTENT)


def _params(params: object) -> dict[str, str | int] | None:
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise InvalidRequestError("params must be a mapping of str to str or int")
    out: dict[str, str | int] = {}
    for key, value in cast("Mapping[object, object]", params).items():
        if not isinstance(key, str) or isinstance(value, bool):
            raise InvalidRequestError("params must be a mapping of str to str or int")
        if not isinstance(value, str | int):
            raise InvalidRequestError(
                f"params[{key!r}] must be a str or an int, not {type(value).__name__}"
            )
        out[key] = value
    return out


def _parsed(body: bytes) -> object:
    if not body.strip():
        return None
    try:
        return _ANY.decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace")  # a plain-text reply (a URL)


def _encode_body(json: object) -> bytes | None:
    """`json=` as the request body; an unencodable value is the caller's mistake."""
    if json is None:
        return None
    try:
        return msgspec.json.encode(json)
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        raise InvalidRequestError(f"json= cannot be encoded: {exc}") from None


def _parse_reply(reply: HttpReply, result_type: Any) -> object:
    """The decoded result of a raw (or untyped) reply; an error envelope raises."""
    if result_type is None or result_type is NoResult:
        parsed = _parsed(reply.body)
        # an error envelope inside a 200 still raises, as for every call
        reply_decoder(NoResult).decode(reply.body, reply.status)
        return parsed
    return reply_decoder(result_type).decode(reply.body, reply.status)


def _raw_result(
    client: ApiClient,
    route: Route,
    reply: HttpReply,
    *,
    result_type: Any,
    query: dict[str, str | int] | None,
    body: bytes | None,
    raw: bool,
) -> Any:
    """Decode `reply` as `request(raw=True)` or `result_type=None` asks; an API
    error is scrubbed, tagged with its request id and explained like any call's."""
    try:
        parsed = _parse_reply(reply, result_type)
    except APIError as exc:
        client.transport.secrets.scrub(exc)  # never echo a secret
        exc.request_id = request_id_of(reply.headers)
        explain(exc, method=route.method, path=route.path, params=query, body=body)
        raise
    if not raw:
        return parsed
    return RawResponse(
        status=reply.status,
        headers=reply.headers or {},
        request_id=request_id_of(reply.headers),
        parsed=parsed,
        body=reply.body,
    )


async def send_request(
    client: ApiClient,
    method: str,
    path: str,
    *,
    host: str,
    params: object,
    json: object,
    result_type: Any,
    on_behalf_of: str,
    raw: bool,
) -> Any:
    """The body of `KommunicateSession.request` (see there)."""
    route = _route(method, path, host)
    query = _params(params)
    body = _encode_body(json)
    if raw or result_type is None:
        reply = await client.call(
            route, HttpReply, params=query, body=body, acting_as=on_behalf_of
        )
        assert reply is not None  # an HttpReply result is never None
        return _raw_result(
            client,
            route,
            reply,
            result_type=result_type,
            query=query,
            body=body,
            raw=raw,
        )
    return await client.call(
        route, result_type, params=query, body=body, acting_as=on_behalf_of
    )
