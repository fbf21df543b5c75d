"""A Fast-RPC producer built on the vendored Imperal SDK (part of `make test`).

It calls every function of the mail client through the host's worker as the
platform does: each request is an `imperal_sdk.rpc.RpcRequest`, serialised with
the SDK's `encode_request` and added to the stream as `{"payload": <json>}`;
each reply is popped from its reply list and validated with the SDK's
`decode_reply` (the `RpcReply` model), its result read as the SDK's
`ActionResult`. Functions behind the confirmation gate are confirmed with
`params.confirmation_token`. The function list comes from the host's
`/v1/tools`, so a function added without an entry in CALLS fails here.

Then the edges: a corr_id sent twice is answered from its record (the SDK's
should_cache_reply), an expired deadline gets a `timeout` reply, a malformed
envelope a `schema_violation` reply, and an envelope with no "v" is served.

Usage: producer.py REDIS_URL STREAM HOST_URL
"""
import json
import secrets
import sys
import time
import urllib.request

import redis
from imperal_sdk.rpc import RpcErrorCategory, RpcRequest, RpcStatus, decode_reply, encode_request, should_cache_reply
from imperal_sdk.types.action_result import ActionResult

# Parameters of each function; "$message" is a message id of the inbox.
CALLS = {
    "connect_account": {"account_id": "rpc-acct", "email": "rpc@example.com"},
    "list_accounts": {},
    "search": {"query": "is:unread"},
    "list_inbox": {"account_id": "work"},
    "get_unread_summary": {},
    "switch_account": {"account": "rpc-acct"},  # connected by connect_account, listed first
    "purge_trash": {"account_id": "work"},
    "send": {"to": "a@example.com", "subject": "hi", "body": "hello"},
    "reply": {"message_id": "$message", "body": "thanks"},
    "read_email": {"message_id": "$message"},
    "status": {},
    "inbox": {},
    "count_emails": {},
    "archive": {"message_ids": ["$message"]},
    "star": {"message_ids": ["$message"]},
    "move": {"message_ids": ["$message"], "to_folder": "Work"},
    "purge": {"query": "is:read", "from_folder": "Trash"},
    "archive_by_query": {"account_id": "work", "query": "is:read"},
    "archive_message": {"account_id": "work", "message_id": "$message"},
    "mark_read": {"account_id": "work", "message_id": "$message"},
}
USER = "rpc-producer-" + secrets.token_hex(4)


def request(stream_client, stream, function, params, **overrides):
    corr_id = secrets.token_hex(16)
    now = time.time_ns()
    fields = dict(
        corr_id=corr_id, user_id=USER, tenant_id="default", email="p@example.com", role="user",
        app_id="mail-client", function=function, params=params,
        reply_list="imperal:rpc:reply:" + corr_id, deadline_ns=now + 10_000_000_000, submitted_at_ns=now,
    )
    fields.update(overrides)
    req = RpcRequest(**fields)
    stream_client.xadd(stream, {"payload": json.dumps(encode_request(req))})
    return req


def await_reply(rdb, req):
    popped = rdb.brpop(req.reply_list, timeout=15)
    if popped is None:
        sys.exit(f"rpc: no reply to {req.function}")
    reply = decode_reply(json.loads(popped[1]), strict_version=True).reply
    if reply.corr_id != req.corr_id:
        sys.exit(f"rpc: {req.function}: reply for {reply.corr_id}")
    return reply


def call(rdb, stream, function, params, **overrides):
    req = request(rdb, stream, function, params, **overrides)
    return req, await_reply(rdb, req)


def action_result(function, reply):
    if reply.status != RpcStatus.SUCCESS:
        sys.exit(f"rpc: {function}: {reply.error}")
    result = ActionResult.from_dict(reply.result)
    if result.status not in ("success", "error") or not isinstance(result.data, dict):
        sys.exit(f"rpc: {function}: not an ActionResult: {reply.result}")
    return reply.result


def main():
    redis_url, stream, host = sys.argv[1:4]
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    with urllib.request.urlopen(host + "/v1/tools") as resp:
        functions = [t["function"] for t in json.load(resp)["tools"] if t["app_id"] == "mail-client"]
    missing = sorted(set(functions) - set(CALLS))
    if missing:
        sys.exit(f"rpc: no parameters in CALLS for {missing}")

    inbox = action_result("list_inbox", call(rdb, stream, "list_inbox", {"account_id": "work"})[1])
    message = inbox["data"]["messages"][0]["id"]
    for function in functions:
        params = json.loads(json.dumps(CALLS[function]).replace('"$message"', json.dumps(message)))
        result = action_result(function, call(rdb, stream, function, params)[1])
        if result.get("error_code") == "CONFIRMATION_REQUIRED":
            token = result["data"]["confirmation"]["token"]
            result = action_result(function, call(rdb, stream, function, {**params, "confirmation_token": token})[1])
        if result["status"] != "success":
            sys.exit(f"rpc: {function}: {result}")
        print(f"rpc: {function}: {result['summary'][:60]!r}")

    # A corr_id sent again: the recorded reply, not a second run.
    req, first = call(rdb, stream, "get_unread_summary", {})
    rdb.xadd(stream, {"payload": json.dumps(encode_request(req))})
    again = await_reply(rdb, req)
    assert should_cache_reply(first) and again == first, (first, again)
    print("rpc: a corr_id sent twice is answered from its record")

    # An expired deadline: a timeout reply, retryable, not cached.
    _, expired = call(rdb, stream, "list_inbox", {}, deadline_ns=time.time_ns() - 1)
    assert expired.status == RpcStatus.ERROR and expired.error.category == RpcErrorCategory.TIMEOUT, expired
    assert expired.error.retryable and not should_cache_reply(expired)
    print("rpc: an expired deadline is a timeout reply")

    # A malformed envelope: params that are no object.
    corr_id = secrets.token_hex(16)
    bad = {"v": 1, "corr_id": corr_id, "user_id": USER, "tenant_id": "default", "email": "", "role": "",
           "app_id": "mail-client", "function": "list_inbox", "params": "[]",
           "reply_list": "imperal:rpc:reply:" + corr_id, "deadline_ns": time.time_ns() + 10**10,
           "submitted_at_ns": time.time_ns()}
    rdb.xadd(stream, {"payload": json.dumps(bad)})
    popped = rdb.brpop(bad["reply_list"], timeout=15)
    refused = decode_reply(json.loads(popped[1])).reply
    assert refused.error.category == RpcErrorCategory.SCHEMA_VIOLATION and "params" in refused.error.message, refused
    print("rpc: a malformed envelope is a schema_violation reply")

    # A legacy envelope, with no "v".
    legacy = encode_request(RpcRequest(
        corr_id=secrets.token_hex(16), user_id=USER, tenant_id="default", email="", role="", app_id="mail-client",
        function="status", params={}, reply_list="imperal:rpc:reply:legacy-" + secrets.token_hex(8),
        deadline_ns=time.time_ns() + 10**10, submitted_at_ns=time.time_ns()))
    del legacy["v"]
    rdb.xadd(stream, {"payload": json.dumps(legacy)})
    popped = rdb.brpop(legacy["reply_list"], timeout=15)
    assert decode_reply(json.loads(popped[1])).reply.status == RpcStatus.SUCCESS
    print(f"rpc: {len(functions)} functions and 4 edges through the SDK's codec")


if __name__ == "__main__":
    main()
