#!/usr/bin/env python3
"""Reference table: how Pydantic v2 (lax / python mode) validates tool-call
parameter values that were decoded from JSON.

An SDK extension receives its params as a dict produced by json.loads() and
validates it with Model.model_validate(...) -- i.e. Pydantic's *python* (lax)
mode, NOT model_validate_json (JSON mode differs in a few corners).  This
script reproduces exactly that path for one field `v` per row, and prints
the outcomes as JSON so the Go re-implementation in internal/params can be
table-tested against it.

Regenerate (from the repository root):

    eval "$(/work/shared/reference/imperal-sdk-5.11.0/env.sh)"
    python3 internal/params/testdata/pydantic_lax.py > internal/params/testdata/pydantic_lax.json

Only pydantic is required.  Output is deterministic: rows are emitted in
the fixed order of CASES below.

Row format:
  {"type": ..., "input": <JSON text>, "ok": true,  "value": <model.v as JSON>}
  {"type": ..., "input": <JSON text>, "ok": false, "error": <errors()[0]["type"]>}
Extra markers:
  "special_float": true  -- value is inf/-inf/nan, rendered as a string
  "beyond_int64": true   -- input or validated value is an integer outside
                           the signed 64-bit range
"""

import json
import math
from typing import Optional

import pydantic
from pydantic import ValidationError, create_model

# type name (as used in the table) -> Python annotation
TYPES = {
    "str": str,
    "bool": bool,
    "int": int,
    "float": float,
    "list[str]": list[str],
    "list[int]": list[int],
    "optional[str]": Optional[str],
    "optional[int]": Optional[int],
}

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

# (type, input as JSON text).  Inputs are JSON *text* so that number
# literals such as 1 / 1.0 / 1e3 reach json.loads exactly as written.
CASES = [
    # ---- str --------------------------------------------------------------
    ("str", '"abc"'),
    ("str", '""'),
    ("str", '" spaced "'),
    ("str", '"3"'),
    ("str", '"héllo wörld ✓ 日本語 🙂"'),
    ("str", '"line\\nbreak\\ttab"'),
    ("str", "3"),
    ("str", "3.5"),
    ("str", "0"),
    ("str", "true"),
    ("str", "false"),
    ("str", "null"),
    ("str", "[]"),
    ("str", "{}"),
    ("str", '["a"]'),
    # ---- bool -------------------------------------------------------------
    ("bool", "true"),
    ("bool", "false"),
    ("bool", "1"),
    ("bool", "0"),
    ("bool", "1.0"),
    ("bool", "0.0"),
    ("bool", "-0.0"),
    ("bool", "1e0"),
    ("bool", "2"),
    ("bool", "-1"),
    ("bool", "0.5"),
    ("bool", "1.5"),
    ("bool", '"1"'),
    ("bool", '"0"'),
    ("bool", '"t"'),
    ("bool", '"f"'),
    ("bool", '"T"'),
    ("bool", '"F"'),
    ("bool", '"y"'),
    ("bool", '"n"'),
    ("bool", '"Y"'),
    ("bool", '"N"'),
    ("bool", '"on"'),
    ("bool", '"off"'),
    ("bool", '"oN"'),
    ("bool", '"OFF"'),
    ("bool", '"yes"'),
    ("bool", '"no"'),
    ("bool", '"Yes"'),
    ("bool", '"NO"'),
    ("bool", '"true"'),
    ("bool", '"false"'),
    ("bool", '"TRUE"'),
    ("bool", '"False"'),
    ("bool", '"tRuE"'),
    ("bool", '" true "'),
    ("bool", '" false"'),
    ("bool", '"true\\n"'),
    ("bool", '" 1 "'),
    ("bool", '"1.0"'),
    ("bool", '"2"'),
    ("bool", '""'),
    ("bool", '" "'),
    ("bool", '"tru"'),
    ("bool", '"yess"'),
    ("bool", "null"),
    ("bool", "[]"),
    ("bool", "{}"),
    ("bool", "[true]"),
    # ---- int --------------------------------------------------------------
    ("int", "3"),
    ("int", "-3"),
    ("int", "0"),
    ("int", "-0"),
    ("int", "3.0"),
    ("int", "-3.0"),
    ("int", "-0.0"),
    ("int", "3.5"),
    ("int", "0.1"),
    ("int", "1e3"),
    ("int", "1E3"),
    ("int", "3.0e0"),
    ("int", "1.5e1"),
    ("int", "1e-3"),
    ("int", "true"),
    ("int", "false"),
    ("int", '"3"'),
    ("int", '" 3 "'),
    ("int", '"\\t3\\n"'),
    ("int", '"-3"'),
    ("int", '"+3"'),
    ("int", '"+0"'),
    ("int", '"-0"'),
    ("int", '"+-3"'),
    ("int", '"- 3"'),
    ("int", '"3.0"'),
    ("int", '"3.00"'),
    ("int", '" 3.0 "'),
    ("int", '"0.0"'),
    ("int", '"3.10"'),
    ("int", '"3.0.0"'),
    ("int", '"3."'),
    ("int", '"3.5"'),
    ("int", '"1e3"'),
    ("int", '"0x10"'),
    ("int", '"0o10"'),
    ("int", '"0b10"'),
    ("int", '"3_000"'),
    ("int", '"1_000_000"'),
    ("int", '"3__000"'),
    ("int", '"_3"'),
    ("int", '"3_"'),
    ("int", '"-_3"'),
    ("int", '"3_000.0"'),
    ("int", '" 1_0 "'),
    ("int", '"3,000"'),
    ("int", '""'),
    ("int", '" "'),
    ("int", '"03"'),
    ("int", '"007"'),
    ("int", '"-03"'),
    ("int", '"٣"'),
    ("int", '"３"'),
    ("int", '"\\u00a03"'),
    ("int", '"\\u30003"'),
    ("int", '"abc"'),
    ("int", '"true"'),
    ("int", "9223372036854775807"),
    ("int", "-9223372036854775808"),
    ("int", '"9223372036854775807"'),
    ("int", '"-9223372036854775808"'),
    ("int", '"9223372036854775808"'),
    ("int", "9223372036854775808"),
    ("int", "9.2e18"),
    ("int", "1e19"),
    ("int", "1e400"),
    ("int", "null"),
    ("int", "[]"),
    ("int", "{}"),
    ("int", "[3]"),
    # ---- float ------------------------------------------------------------
    ("float", "3"),
    ("float", "3.5"),
    ("float", "-3.5"),
    ("float", "0"),
    ("float", "-0.0"),
    ("float", "1e3"),
    ("float", "1.5E-3"),
    ("float", "9007199254740993"),
    ("float", "1e400"),
    ("float", "true"),
    ("float", "false"),
    ("float", '"3.5"'),
    ("float", '" 3.5 "'),
    ("float", '"1e3"'),
    ("float", '"+3.5"'),
    ("float", '".5"'),
    ("float", '"5."'),
    ("float", '"inf"'),
    ("float", '"-inf"'),
    ("float", '"+inf"'),
    ("float", '"INF"'),
    ("float", '"nan"'),
    ("float", '"NaN"'),
    ("float", '"-nan"'),
    ("float", '"Infinity"'),
    ("float", '"-Infinity"'),
    ("float", '"infinity"'),
    ("float", '"3"'),
    ("float", '""'),
    ("float", '" "'),
    ("float", '"abc"'),
    ("float", '"0x10"'),
    ("float", '"1_000.5"'),
    ("float", '"1__000"'),
    ("float", '"_1"'),
    ("float", '"1_"'),
    ("float", '"1_e3"'),
    ("float", '"1e3 "'),
    ("float", '" 1_000.5 "'),
    ("float", '"1e+3"'),
    ("float", '" inf "'),
    ("float", '"\\u00a03.5"'),
    ("float", '"3,5"'),
    ("float", '"٣"'),
    ("float", '"true"'),
    ("float", "null"),
    ("float", "[]"),
    ("float", "{}"),
    ("float", "[3.5]"),
    # ---- list[str] --------------------------------------------------------
    ("list[str]", '["a", "b"]'),
    ("list[str]", "[]"),
    ("list[str]", '["a", 3]'),
    ("list[str]", '["a", true]'),
    ("list[str]", '["a", ["b"]]'),
    ("list[str]", '"a"'),
    ("list[str]", '""'),
    ("list[str]", '"[\\"a\\"]"'),
    ("list[str]", '"a,b"'),
    ("list[str]", '{"a": 1}'),
    ("list[str]", "{}"),
    ("list[str]", "null"),
    ("list[str]", "[null]"),
    ("list[str]", "3"),
    ("list[str]", "true"),
    # ---- list[int] --------------------------------------------------------
    ("list[int]", "[1, 2]"),
    ("list[int]", '["1", " 2 "]'),
    ("list[int]", "[1.0]"),
    ("list[int]", "[1.5]"),
    ("list[int]", "[true]"),
    ("list[int]", '["x"]'),
    ("list[int]", "[null]"),
    ("list[int]", "[1, 2.5, 3]"),
    ("list[int]", '"1"'),
    ("list[int]", '"[1]"'),
    ("list[int]", "1"),
    ("list[int]", "null"),
    ("list[int]", "[]"),
    ("list[int]", '{"0": 1}'),
    # ---- optional[str] ----------------------------------------------------
    ("optional[str]", "null"),
    ("optional[str]", '"x"'),
    ("optional[str]", '""'),
    ("optional[str]", '"null"'),
    ("optional[str]", "3"),
    ("optional[str]", "true"),
    ("optional[str]", "[]"),
    # ---- optional[int] ----------------------------------------------------
    ("optional[int]", "null"),
    ("optional[int]", "3"),
    ("optional[int]", '"3"'),
    ("optional[int]", "3.0"),
    ("optional[int]", "3.5"),
    ("optional[int]", '""'),
    ("optional[int]", '"null"'),
    ("optional[int]", "true"),
    ("optional[int]", "[]"),
]


def render(value):
    """Render model.v as JSON-compatible data (+ markers)."""
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        if math.isnan(value):
            return "nan", True
        return ("inf" if value > 0 else "-inf"), True
    return value, False


def run_case(type_name, input_json):
    model = create_model("M", v=(TYPES[type_name], ...))  # required, no default
    raw = json.loads('{"v": ' + input_json + "}")  # what the extension receives
    row = {"type": type_name, "input": input_json}
    try:
        v = model.model_validate(raw).v  # python / lax mode
    except ValidationError as exc:
        row["ok"] = False
        row["error"] = exc.errors()[0]["type"]
    else:
        row["ok"] = True
        row["value"], special = render(v)
        if special:
            row["special_float"] = True
    # Flag integers (decoded input or validated value) outside signed 64-bit.
    for x in (raw["v"], row.get("value")):
        if type(x) is int and not INT64_MIN <= x <= INT64_MAX:
            row["beyond_int64"] = True
    return row


def main():
    doc = {
        "generator": "internal/params/testdata/pydantic_lax.py",
        "pydantic_version": pydantic.VERSION,
        "cases": [run_case(t, i) for t, i in CASES],
    }
    # allow_nan=False guarantees strict JSON (inf/nan are rendered as strings).
    print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))


if __name__ == "__main__":
    main()
