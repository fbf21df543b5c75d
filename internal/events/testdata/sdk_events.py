#!/usr/bin/env python3
"""Capture the exact event messages the real Imperal SDK's fallback publisher builds.

Regenerate sdk_events.json (from this directory) with:

    eval "$(/work/shared/reference/imperal-sdk-5.11.0/env.sh)"
    python3 sdk_events.py > sdk_events.json

The SDK is imported, never copied: imperal_sdk.runtime._platform.publish_event_fallback
imports get_shared_redis from imperal_kernel.core.redis, json.dumps its event and awaits
r.publish(channel, message). This script puts a stand-in imperal_kernel.core.redis in
sys.modules whose client records what publish receives, calls the real function once per
case, and prints the recorded channel and message of each case as JSON.

Each case's data is given as compact JSON text (data_json), written as Go's encoder
writes it (no spaces, raw UTF-8, no HTML escaping, U+2028/U+2029 as \\u2028/\\u2029);
the SDK receives json.loads(data_json), as the Python side of the platform would.
The output is deterministic: no time, randomness or set ordering is involved.
"""
import asyncio
import json
import sys
import types

# --- stand-in for the platform's Redis module --------------------------------

published = []  # (channel, message) pairs, in the order publish was awaited


class RecordingRedis:
    """Just enough of a redis.asyncio client: publish records its arguments."""

    async def publish(self, channel, message):
        published.append((channel, message))
        return 0  # number of receivers, as Redis would answer


_client = RecordingRedis()


def get_shared_redis():
    return _client


def _install_stand_in():
    """Register imperal_kernel, imperal_kernel.core and imperal_kernel.core.redis."""
    names = ["imperal_kernel", "imperal_kernel.core", "imperal_kernel.core.redis"]
    for name in names:
        if name in sys.modules:
            sys.exit(f"{name} is already importable; refusing to shadow it")
    pkg = types.ModuleType("imperal_kernel")
    pkg.__path__ = []  # a package, with no submodules on disk
    core = types.ModuleType("imperal_kernel.core")
    core.__path__ = []
    redis_mod = types.ModuleType("imperal_kernel.core.redis")
    redis_mod.get_shared_redis = get_shared_redis
    pkg.core = core
    core.redis = redis_mod
    sys.modules.update({names[0]: pkg, names[1]: core, names[2]: redis_mod})


_install_stand_in()

import imperal_sdk  # noqa: E402  (after the stand-in, as on the platform)
from imperal_sdk.runtime._platform import publish_event_fallback  # noqa: E402

if imperal_sdk.__version__ != "5.11.0":
    sys.exit(f"expected imperal-sdk 5.11.0, got {imperal_sdk.__version__}")

# --- cases -------------------------------------------------------------------
# data_json values are Python literals of the JSON text; "\\" in them is one
# backslash in the JSON text (a JSON escape), while "\u00e9" etc. are the raw
# characters themselves (Go writes non-ASCII text unescaped).


def case(name, event_type, data_json, source_app="mail-client", user_id="demo", tenant_id="default"):
    return {"name": name, "event_type": event_type, "data_json": data_json,
            "source_app": source_app, "user_id": user_id, "tenant_id": tenant_id}


CASES = [
    # The mail client's archive event.
    case("archive", "email.archived", '{"archived":1,"message_id":"m-0001"}'),
    # mark_read with a boolean; keys deliberately not in sorted order.
    case("mark_read", "email.marked_read", '{"updated":1,"message_id":"m-0002","read":false}'),
    # A bare event name, with no app prefix.
    case("bare_event_name", "archived", '{"archived":1,"message_id":"m-0003"}'),
    # Another tenant: the channel follows the tenant.
    case("other_tenant", "email.archived", '{"archived":2,"message_id":"m-0004"}',
         user_id="u-77", tenant_id="acme"),
    # Empty data.
    case("empty_data", "email.synced", '{}'),
    # Nested objects and arrays, including empty ones.
    case("nested", "email.labels_changed",
         '{"labels":{"added":["work","urgent"],"removed":[]},"ids":[1,[2,3],{"x":{}}],"meta":{"by":{"id":"demo"}}}'),
    # null values, at the top and nested.
    case("nulls", "email.moved", '{"folder":null,"prev":{"folder":null},"list":[null,true,false]}'),
    # Non-ASCII text: Latin-1, CJK, and an emoji outside the BMP (a surrogate pair).
    case("non_ascii", "email.tagged",
         '{"subject":"Caf\u00e9 \u65e5\u672c\u8a9e","emoji":"\U0001F600","mixed":"a\u00e9\U0001F600z"}'),
    # Quotes, backslashes, control characters, HTML-ish characters, U+2028/U+2029, DEL, slash.
    case("escapes", "email.note_added",
         '{"quote":"say \\"hi\\"","backslash":"C:\\\\dir\\\\file","newline":"line1\\nline2",'
         '"tab":"a\\tb","cr":"a\\rb","bs_ff":"\\b\\f","ctrl":"\\u0001\\u001f","del":"a\x7fb",'
         '"html":"<a href=\\"x\\">&amp;</a> <>&","ls":"a\\u2028b","ps":"a\\u2029b","slash":"a/b"}'),
    # Integers: negative, beyond 2^53, beyond int64.
    case("integers", "email.counted",
         '{"zero":0,"neg":-42,"big":9007199254740993,"huge":12345678901234567890,'
         '"neg_huge":-12345678901234567890,"e20":100000000000000000000}'),
    # Floats as Go writes float64 values: shortest form, %f-style for 1e-6 <= |x| < 1e21,
    # exponent form otherwise (no zero padding: 1e-7, 1e+21).
    case("floats", "email.scored",
         '{"half":0.5,"q":3.25,"neg":-1.5,"tiny":1e-7,"large":1e+21,"micro":0.000001,'
         '"e5":0.00001,"e4":0.0001,"third":0.3333333333333333,"sum":0.30000000000000004,'
         '"big":1.5e+300,"min":5e-324,"neg_small":-2.5e-8,"one":1,"negzero":-0}'),
    # Number literals Go's encoder never writes for a float64 but other writers (a Python
    # extension, say) may put in raw JSON: any "." or exponent makes a Python float, which
    # json.dumps writes as repr() -- "1.0", "100.0", "1e+16", "-0.0" -- whatever the literal.
    case("numbers_other_writers", "email.scored",
         '{"one_point_zero":1.0,"e2":1e2,"E_plus":1E+2,"trailing_zero":2.50,"zero_exp":0e0,'
         '"neg_zero_float":-0.0,"E_minus":1.5E-7,"e15":1e15,"e16":1e16,'
         '"long":123456789012345678.0,"shifted":12345.678e-9}'),
    # An empty key and non-ASCII keys.
    case("keys", "email.props",
         '{"":"empty key","cl\u00e9":1,"\u65e5\u672c":"jp","\U0001F600":true}'),
    # A user id with an "@" and a dot.
    case("user_email", "email.archived", '{"archived":1,"message_id":"m-0005"}',
         user_id="jane.doe@example.com"),
]

# --- run ---------------------------------------------------------------------


async def main():
    out = []
    for c in CASES:
        before = len(published)
        await publish_event_fallback(event_type=c["event_type"], data=json.loads(c["data_json"]),
                                     source_app=c["source_app"], user_id=c["user_id"],
                                     tenant_id=c["tenant_id"])
        if len(published) != before + 1:
            sys.exit(f"case {c['name']}: expected one publish, saw {len(published) - before}")
        channel, message = published[-1]
        if not isinstance(message, str):
            sys.exit(f"case {c['name']}: message is {type(message).__name__}, not str")
        out.append(dict(c, channel=channel, message=message))
    return out


doc = {"generator": "internal/events/testdata/sdk_events.py", "sdk": "imperal-sdk 5.11.0",
       "cases": asyncio.run(main())}
json.dump(doc, sys.stdout, ensure_ascii=True, indent=1)
sys.stdout.write("\n")
