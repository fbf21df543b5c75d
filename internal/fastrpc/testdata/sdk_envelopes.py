"""Writes sdk_envelopes.json: request envelopes and what the vendored SDK's
codec (imperal_sdk.rpc.decode_request, loose mode) makes of each: accepted
(and whether as a legacy envelope) or refused, with the first field Pydantic
names. The Go decoder is tested against this table.

Run from the repository root:
  eval "$(../shared/reference/imperal-sdk-5.11.0/env.sh)"
  python3 internal/fastrpc/testdata/sdk_envelopes.py
"""
import json
import os

from pydantic import ValidationError

from imperal_sdk.rpc import decode_request

BASE = {
    "v": 1,
    "corr_id": "c" * 32,
    "user_id": "u-1",
    "tenant_id": "default",
    "agency_id": None,
    "email": "u@example.com",
    "role": "user",
    "scopes": ["mail.read"],
    "attributes": {"plan": "pro"},
    "app_id": "mail-client",
    "function": "list_inbox",
    "params": {"account_id": "work"},
    "reply_list": "imperal:rpc:reply:" + "c" * 32,
    "deadline_ns": 1_900_000_000_000_000_000,
    "submitted_at_ns": 1_800_000_000_000_000_000,
}
MISSING = object()


def case(name, **changes):
    payload = dict(BASE)
    for k, v in changes.items():
        if v is MISSING:
            payload.pop(k, None)
        else:
            payload[k] = v
    return name, payload


CASES = [
    case("complete"),
    case("no v: a legacy envelope", v=MISSING),
    case("v 2", v=2),
    case("v 0", v=0),
    case("v as a string", v="1"),
    case("v as a float", v=1.0),
    case("v true", v=True),
    case("v null", v=None),
    case("corr_id of 15", corr_id="c" * 15),
    case("corr_id of 16", corr_id="c" * 16),
    case("corr_id of 64", corr_id="c" * 64),
    case("corr_id of 65", corr_id="c" * 65),
    case("corr_id of 16 two-byte characters", corr_id="\u00e9" * 16),
    case("corr_id a number", corr_id=1234567890123456789),
    case("corr_id missing", corr_id=MISSING),
    case("user_id empty", user_id=""),
    case("user_id of 128", user_id="u" * 128),
    case("user_id of 129", user_id="u" * 129),
    case("user_id missing", user_id=MISSING),
    case("tenant_id empty", tenant_id=""),
    case("tenant_id of 65", tenant_id="t" * 65),
    case("tenant_id missing", tenant_id=MISSING),
    case("agency_id missing", agency_id=MISSING),
    case("agency_id a string", agency_id="ag-1"),
    case("agency_id a number", agency_id=3),
    case("email missing", email=MISSING),
    case("email empty", email=""),
    case("email null", email=None),
    case("role missing", role=MISSING),
    case("scopes missing", scopes=MISSING),
    case("scopes a string", scopes="mail.read"),
    case("scopes of numbers", scopes=[1]),
    case("scopes null", scopes=None),
    case("attributes missing", attributes=MISSING),
    case("attributes a list", attributes=[]),
    case("attributes null", attributes=None),
    case("app_id missing", app_id=MISSING),
    case("app_id a number", app_id=7),
    case("function missing", function=MISSING),
    case("function empty", function=""),
    case("params missing", params=MISSING),
    case("params empty", params={}),
    case("params a JSON string", params="{\"account_id\": \"work\"}"),
    case("params a list", params=[]),
    case("params null", params=None),
    case("reply_list missing", reply_list=MISSING),
    case("reply_list empty", reply_list=""),
    case("deadline_ns a numeric string", deadline_ns="1900000000000000000"),
    case("deadline_ns a float with no fraction", deadline_ns=1.0e18),
    case("deadline_ns a fraction", deadline_ns=1.5),
    case("deadline_ns true", deadline_ns=True),
    case("deadline_ns null", deadline_ns=None),
    case("deadline_ns missing", deadline_ns=MISSING),
    case("submitted_at_ns missing", submitted_at_ns=MISSING),
    case("an unknown field", extra_field={"x": 1}),
]


def main():
    out = []
    for name, payload in CASES:
        entry = {"name": name, "payload": payload}
        try:
            res = decode_request(payload)
            entry["accepted"] = True
            entry["legacy"] = res.legacy_envelope
        except ValidationError as e:
            entry["accepted"] = False
            entry["field"] = str(e.errors()[0]["loc"][0])
        out.append(entry)
    path = os.path.join(os.path.dirname(__file__), "sdk_envelopes.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
