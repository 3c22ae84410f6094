"""The call pipeline: how one call becomes HTTP attempts and a typed result.

    client.py       `ApiClient.call()` in layers: fast path, retries, follow, attempt
    call_state.py   what crosses attempts (Exchange), an attempt's Target, 429 pause
    routing.py      where a request goes: host, cached URL, credentials, redirects
    tokens.py       per-user JWTs: expiry, proactive refresh, one refresh at a time
    transport.py    the only aiohttp importer (testing/ aside): one attempt
    watchdog.py     one timer per session for every attempt's timeout
    retry.py        pure retry decisions, back-off and Retry-After maths
    reply.py        a reply body to a typed result or the right exception
    headroom.py     what replies' rate-limit headers say is left; slowing before a 429

The resources (`kommunicate_async/resources/`) sit above it; the batch engine
(`kommunicate_async/_batch/`) drives it through the resources' plain functions.
A send, walked through these modules: docs/internals.md.
"""
