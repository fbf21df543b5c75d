#!/usr/bin/env python3
"""Prints vectors.json: call tokens built with the
algorithm of the Python SDK (imperal_sdk.security.call_token), reproduced
with the standard library only, and the outcome its verify gives them.

    python3 internal/calltoken/testdata/vectors.py > internal/calltoken/testdata/vectors.json

The SDK validates claims with pydantic; validate() below covers the cases
used here (missing field, wrong type, short jti, unknown tool_type).
"""
import base64
import binascii
import hashlib
import hmac
import json
import sys

SECRET = "test-secret-32-bytes-urlsafe-base64-for-unit-tests-only"
PREVIOUS = "previous-secret-for-rotation-test-32-bytes-content"
UNKNOWN = "a-secret-the-verifier-does-not-know-about-at-all"
VERIFY_SECRETS = [SECRET, PREVIOUS]
NOW = 1767225600  # 2026-01-01T00:00:00Z, the verifier's clock
FAR = 4102444800  # 2100-01-01T00:00:00Z
IAT = 1767225590
TOOL_TYPES = ("skeleton", "panel", "tool", "chat_fn")


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canonical(claims):
    return json.dumps(claims, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(payload, secret):
    sig = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()
    return b64e(payload) + "." + b64e(sig)


def validate(obj):
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    for k in ("tool_type", "app_id", "user_id", "jti"):
        if not isinstance(obj.get(k), str):
            raise ValueError(k)
    for k in ("iat", "exp"):
        v = obj.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(k)
        if isinstance(v, float) and v != int(v):
            raise ValueError(k)
    if obj["tool_type"] not in TOOL_TYPES:
        raise ValueError("tool_type")
    if len(obj["jti"]) < 16:
        raise ValueError("jti")
    return obj


def verify(token, app_id, user_id, seen):
    """The SDK's verify_call_token with required_tool_type="chat_fn"."""
    if len(token) > 2048:
        return "token length exceeds limit"
    if "." not in token:
        return "malformed call token"
    try:
        p64, s64 = token.split(".", 1)
        payload, sig = b64d(p64), b64d(s64)
    except (binascii.Error, ValueError):
        return "malformed call token"
    for s in VERIFY_SECRETS:
        if hmac.compare_digest(sig, hmac.new(s.encode("utf-8"), payload, hashlib.sha256).digest()):
            break
    else:
        return "invalid call token signature"
    try:
        c = validate(json.loads(payload))
    except ValueError:
        return "malformed call token payload"
    if c["exp"] <= NOW:
        return "call token expired"
    if c["jti"] in seen:
        return "call token replayed"
    seen.add(c["jti"])
    if c["tool_type"] != "chat_fn":
        return "tool_type mismatch"
    if c["app_id"] != app_id:
        return "app_id mismatch"
    if c["user_id"] != user_id:
        return "user_id mismatch"
    return ""


def claims(jti, user="u-123", app="mail", tool_type="chat_fn", exp=FAR):
    return {"tool_type": tool_type, "app_id": app, "user_id": user,
            "iat": IAT, "exp": exp, "jti": jti}


NON_ASCII_USER = "us\u00e9r-\u00dcn\u00efc\u00f8d\u00e9-\u2603-\U0001F600-<b>&amp;\"q\"\\/\n\t\x7f"


def main():
    vectors = []

    def add(name, token, reason, app="mail", user="u-123", c=None, secret=None):
        v = {"name": name, "token": token, "app_id": app, "user_id": user, "reason": reason}
        if c is not None:
            v["claims"] = c
            v["secret"] = secret
        vectors.append(v)

    def minted(name, c, secret=SECRET, app="mail", user="u-123"):
        tok = sign(canonical(c), secret)
        add(name, tok, None, app, user, c, secret)
        return tok

    minted("chat_fn", claims("vec-jti-chatfn-000001"))
    minted("non_ascii_user", claims("vec-jti-nonascii-00002", user=NON_ASCII_USER),
           user=NON_ASCII_USER)
    minted("previous_secret", claims("vec-jti-previous-00003"), secret=PREVIOUS)
    minted("expired", claims("vec-jti-expired-000004", exp=NOW - 60))
    minted("exp_equals_now", claims("vec-jti-expnow-000005", exp=NOW))
    minted("tool_type_panel", claims("vec-jti-panel-00000006", tool_type="panel"))
    minted("app_mismatch", claims("vec-jti-appmis-000007", app="other-app"))
    minted("user_mismatch", claims("vec-jti-usermis-00008", user="u-999"))
    minted("unknown_secret", claims("vec-jti-unknown-000009"), secret=UNKNOWN)
    minted("short_jti", claims("vec-jti-short"))
    minted("unknown_tool_type", claims("vec-jti-tooltype-00010", tool_type="widget"))

    good = sign(canonical(claims("vec-jti-tampered-00011")), SECRET)
    p, s = good.split(".")
    add("tampered_signature", p + "." + ("Y" if s[0] != "Y" else "Z") + s[1:], None)
    forged = b64e(canonical(claims("vec-jti-tampered-00011", user="admin")))
    add("tampered_payload", forged + "." + s, None, user="admin")

    # Raw payloads, signed with the current secret.
    add("not_json", sign(b"not-json-garbage", SECRET), None)
    add("missing_claims", sign(json.dumps({"tool_type": "skeleton"}).encode(), SECRET), None)
    add("exp_float", sign(json.dumps({"app_id": "mail", "exp": float(FAR), "iat": IAT,
                                      "jti": "vec-jti-expfloat-00012", "tool_type": "chat_fn",
                                      "user_id": "u-123"}).encode(), SECRET), None)
    add("app_id_not_string", sign(canonical({"app_id": 7, "exp": FAR, "iat": IAT,
                                             "jti": "vec-jti-appint-000013", "tool_type": "chat_fn",
                                             "user_id": "u-123"}), SECRET), None)
    add("extra_field_ignored", sign(canonical(dict(claims("vec-jti-extra-00000014"), scope="x")),
                                    SECRET), None)

    # Token spellings the SDK's lenient base64 decoding accepts or refuses.
    base = sign(canonical(claims("vec-jti-b64-00000015")), SECRET)
    p, s = base.split(".")
    add("b64_newline_in_signature", p + "." + s[:10] + "\n" + s[10:], None)
    add("b64_padded_signature", p + "." + s + "=", None)
    add("b64_one_char_too_many", p + "." + s + "AA", None)
    add("b64_non_ascii", p + "." + s[:5] + "\u00e9" + s[5:], None)
    add("no_dot", "abc", None)
    add("empty", "", None)
    add("oversized", "a" * 2049, None)

    seen = set()
    for v in vectors:
        v["reason"] = verify(v["token"], v["app_id"], v["user_id"], seen)

    b64 = []
    for s in ["", "YQ", "YWI", "YWJj", "Y", "YQ==", "YQ=", "YQ===", "YWJj=", "Y=Q", "YQ!",
              "Y!Q", "Y Q", "+/8", "-_8", "YWJjYQ==YQ", "=YQ", "Y\nQ", "YR", "YWJ=j",
              "Y===", "YQ=x=", "YW\u00e9I", "....", "YWJjZA"]:
        try:
            b64.append({"in": s, "hex": binascii.hexlify(b64d(s)).decode()})
        except (binascii.Error, ValueError):
            b64.append({"in": s, "error": True})

    out = {
        "generator": "testdata/vectors.py (the Python SDK's call-token algorithm, stdlib only)",
        "secrets": VERIFY_SECRETS,
        "now": NOW,
        "vectors": vectors,
        "b64": b64,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
