// Drives the host's /mcp endpoint with the official MCP TypeScript SDK's
// client: a second implementation of the protocol, checking what a Go
// client cannot tell us about our answers. The client validates every
// structured result against the tool's output schema itself.
//
//   node interop.mjs http://127.0.0.1:8080/mcp
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.argv[2]);
const user = `interop-${process.pid}`;

const client = new Client({ name: "exthost-interop", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { "X-User-ID": user, "X-Tenant-ID": "default" } },
  }),
);
const step = (name) => console.log(`interop ${url.port}: ${name}`);

// tools/list: one tool per mail-client function, with schemas and hints.
const { tools } = await client.listTools();
const byName = new Map(tools.map((t) => [t.name, t]));
const inbox = byName.get("mail-client__list_inbox");
assert.ok(inbox, "mail-client__list_inbox is listed");
assert.equal(inbox.inputSchema.type, "object");
assert.equal(inbox.annotations.readOnlyHint, true);
assert.ok(inbox.outputSchema, "list_inbox declares an output schema");
const purge = byName.get("mail-client__purge_trash");
assert.equal(purge.annotations.destructiveHint, true);
assert.ok(purge.inputSchema.properties.confirmation_token, "a gated tool takes confirmation_token");
for (const t of tools) assert.ok(t.name.length <= 64, `${t.name} fits 64 characters`);
step(`tools/list: ${tools.length} tools`);

// tools/call: the ActionResult as structured content, the summary as text.
const args = { account_id: "work", folder: "INBOX" };
const listed = await client.callTool({ name: "mail-client__list_inbox", arguments: args });
assert.equal(listed.isError, undefined);
assert.equal(listed.structuredContent.status, "success");
assert.ok(Array.isArray(listed.structuredContent.data.messages));
assert.equal(listed.content[0].type, "text");
assert.equal(listed.content[0].text, listed.structuredContent.summary);
step(`tools/call list_inbox: ${listed.content[0].text}`);

// Every read of the mail client answers what its output schema says (the
// client checks): inbox's total is null.
for (const name of ["inbox", "status", "count_emails", "list_accounts", "get_unread_summary"]) {
  const res = await client.callTool({ name: `mail-client__${name}`, arguments: {} });
  assert.equal(res.structuredContent.status, "success", `${name}: ${res.content[0].text}`);
}
step("reads: inbox, status, count_emails, list_accounts, get_unread_summary");

// Bad arguments are a tool error, not a protocol error.
const bad = await client.callTool({ name: "mail-client__list_inbox", arguments: { account_id: 3 } });
assert.equal(bad.isError, true);
assert.equal(bad.structuredContent.error_code, "VALIDATION_TYPE_ERROR");
assert.match(bad.content[0].text, /^VALIDATION_TYPE_ERROR: /);
step("bad arguments: isError VALIDATION_TYPE_ERROR");

// An unknown tool is a protocol error.
await assert.rejects(client.callTool({ name: "mail-client__no_such_tool", arguments: {} }), /tool/i);
step("unknown tool: protocol error");

// The confirmation gate: held with a token, then run with it.
const held = await client.callTool({ name: "mail-client__purge_trash", arguments: { account_id: "work" } });
assert.equal(held.isError, true);
assert.equal(held.structuredContent.error_code, "CONFIRMATION_REQUIRED");
const token = held.structuredContent.data.confirmation.token;
assert.ok(held.content[0].text.includes(token), "the text gives the token");
const purged = await client.callTool({
  name: "mail-client__purge_trash",
  arguments: { account_id: "work", confirmation_token: token },
});
assert.equal(purged.isError, undefined, purged.content[0].text);
assert.equal(typeof purged.structuredContent.data.purged, "number");
step(`confirmation: ${purged.content[0].text}`);

await client.close();
console.log(`interop ${url.port}: ok`);
