#!/usr/bin/env python3
"""Etags of documents as the real Imperal SDK's MockStore computes them.

Regenerate sdk_etags.json (from this directory) with:

    eval "$(/work/shared/reference/imperal-sdk-5.11.0/env.sh)"
    python3 sdk_etags.py > sdk_etags.json

The SDK is imported, never copied: each case's data (given as JSON text, as
the host's encoder writes it) goes through json.loads and then MockStore.create,
whose Document carries the etag; the script prints the etag of each case. The
output is deterministic.
"""
import asyncio
import json

from imperal_sdk.testing.mock_context import MockStore

CASES = [
    ("empty", "{}"),
    ("flat", '{"provider":"imap","email":"ann@example.com","port":993,"tls":true}'),
    ("key order", '{"z":1,"a":2,"m":{"b":[3,2,1],"a":null}}'),
    ("floats", '{"ratio":0.1,"big":1e+21,"small":1e-07,"whole":2.0,"neg":-0.5}'),
    ("unicode", '{"name":"Zoë Ωmega","emoji":"\U0001F600","quote":"say \\"hi\\"\\n"}'),
    ("nested", '{"filters":[{"field":"from","op":"eq","value":"boss@x.io"}],"folders":{"INBOX":{"unread":3}}}'),
    ("html", '{"s":"<a href=\\"/x\\">&amp;</a>","ls":"\\u2028"}'),
]


async def main():
    store = MockStore()
    out = []
    for name, data_json in CASES:
        doc = await store.create("docs", json.loads(data_json))
        out.append({"name": name, "data_json": data_json, "etag": doc.etag})
    print(json.dumps(out, indent=1, ensure_ascii=False))


asyncio.run(main())
