#!/usr/bin/env python3
"""Write the notification envelopes (DESIGN §13) as Python's json.dumps writes them.

Regenerate notifications.json (from this directory) with:

    python3 notifications.py > notifications.json

A notification envelope is the dict

    {"user_id", "tenant_id", "source_app", "message", "data", "timestamp"}

in that key order, encoded with json.dumps and its defaults: ", " and ": "
separators, ensure_ascii (non-ASCII as \\uXXXX, outside the BMP as a surrogate
pair), floats as repr() writes them. Only the standard library is used.

Each case's data is given as JSON text (data_json), as the host holds it (Go's
encoder writes it: no spaces, raw UTF-8) or as another writer may put it; the
envelope's data is json.loads(data_json). The output is deterministic: no
time, randomness or set ordering is involved.
"""
import json
import sys

TS = "2026-01-01T00:00:00Z"

# data_json values are Python literals of the JSON text; "\\" in them is one
# backslash in the JSON text (a JSON escape), while "\u00e9" etc. are the raw
# characters themselves (Go writes non-ASCII text unescaped).


def case(name, message, data_json, user_id="demo", tenant_id="default", source_app="mail-client",
         timestamp=TS):
    return {"name": name, "user_id": user_id, "tenant_id": tenant_id, "source_app": source_app,
            "message": message, "data_json": data_json, "timestamp": timestamp}


CASES = [
    # The mail client telling its user about new mail.
    case("new_mail", "You have 3 new messages", '{"count":3,"folder":"INBOX"}'),
    # Empty data.
    case("empty_data", "Sync finished", '{}'),
    # An empty message, user, tenant and app.
    case("empty_strings", "", '{}', user_id="", tenant_id="", source_app=""),
    # Another tenant, an e-mail user id and a timestamp with fractional seconds.
    case("other_tenant", "Archived", '{"archived":2}', user_id="jane.doe@example.com",
         tenant_id="acme", timestamp="2026-03-04T05:06:07.123456789Z"),
    # Non-ASCII text everywhere: Latin-1, CJK and emoji outside the BMP (surrogate pairs).
    case("non_ascii", "Caf\u00e9 \u2615 \U0001F600 \u65e5\u672c\u8a9e",
         '{"subject":"R\u00e9sum\u00e9","emoji":"\U0001F600\U0001F389","mixed":"a\u00e9\U0001F600z",'
         '"cl\u00e9":"\u65e5\u672c","\U0001F600":true}',
         user_id="us\u00e9r", tenant_id="t\u00e9nant", source_app="m\u00e4il"),
    # Quotes, backslashes, control characters, HTML-ish characters, U+2028/U+2029, DEL, slash.
    case("escapes", 'say "hi" \\ C:\\dir\n\ttab\r\b\f\x01\x1f\x7f <a href="x">&amp;</a> \u2028\u2029 a/b',
         '{"quote":"say \\"hi\\"","backslash":"C:\\\\dir\\\\file","newline":"line1\\nline2",'
         '"tab":"a\\tb","cr":"a\\rb","bs_ff":"\\b\\f","ctrl":"\\u0001\\u001f","del":"a\x7fb",'
         '"html":"<a href=\\"x\\">&amp;</a> <>&","ls":"a\\u2028b","ps":"a\\u2029b","slash":"a/b",'
         '"key \\"q\\" \\\\":"v"}',
         user_id='u"1\\', source_app="app\ttab"),
    # Nested objects and arrays, including empty ones, and nulls.
    case("nested", "Labels changed",
         '{"labels":{"added":["work","urgent"],"removed":[]},"ids":[1,[2,3],{"x":{}}],'
         '"meta":{"by":{"id":"demo","at":null}},"flags":[true,false,null],"deep":[[[[{"a":[[]]}]]]]}'),
    # Integers: negative, beyond 2^53, beyond int64.
    case("integers", "Counted",
         '{"zero":0,"neg":-42,"big":9007199254740993,"huge":12345678901234567890,'
         '"neg_huge":-12345678901234567890,"e20_int":100000000000000000000}'),
    # Floats: Python writes repr() -- "1.0", "1e+20", "1e-07", "-0.0" -- whatever the literal.
    case("floats", "Scored",
         '{"one":1.0,"e20":1e20,"e20_plus":1E+20,"e21":1e21,"half":0.5,"neg":-1.5,"tiny":1e-7,'
         '"micro":0.000001,"e5":0.00001,"e4":0.0001,"third":0.3333333333333333,'
         '"sum":0.30000000000000004,"big":1.5e+300,"min":5e-324,"neg_zero":-0.0,"zero_exp":0e0,'
         '"trailing":2.50,"e15":1e15,"e16":1e16,"long":123456789012345678.0,"shifted":12345.678e-9,'
         '"in_list":[1.0,2.5,1e20]}'),
    # Keys kept in their order, not sorted; an empty key.
    case("key_order", "Order", '{"z":1,"a":2,"m":{"y":1,"b":2},"":"empty key"}'),
    # A long message.
    case("long_message", "x" * 4096, '{"n":1}'),
]


def main():
    out = []
    for c in CASES:
        envelope = {"user_id": c["user_id"], "tenant_id": c["tenant_id"], "source_app": c["source_app"],
                    "message": c["message"], "data": json.loads(c["data_json"]),
                    "timestamp": c["timestamp"]}
        out.append(dict(c, envelope=json.dumps(envelope)))
    return out


doc = {"generator": "internal/events/testdata/notifications.py",
       "python": "json.dumps with its defaults", "cases": main()}
json.dump(doc, sys.stdout, ensure_ascii=True, indent=1)
sys.stdout.write("\n")
