// Package runtime is what an extension is written with: its declaration
// (NewExtension, ChatTool, CacheModel, AddFunction), the typed cache
// models its handlers read through, and the Result they return.
//
// Everything is declared at package scope, the way the Python SDK's
// decorators declare it at module scope:
//
//	var ext = runtime.NewExtension(runtime.ExtensionInfo{AppID: "mail-client", Version: "1.0.0", ...})
//	var chat = ext.ChatTool("tool_mail_chat", "Mail Client — read, search, and send email.")
//	var inboxPages = runtime.CacheModel[InboxPage](ext, "inbox_page")
//
//	var listInbox = runtime.AddFunction(chat, runtime.Function[ListInboxParams, InboxData]{
//		Name: "list_inbox", Description: "...", ActionType: runtime.Read, Handler: listInboxHandler,
//	})
//
//	func init() { registry.Register(ext) }
//
// A function declares its parameters P and its result data D together.
// P's JSON Schema is derived once, here, and validates every call with the
// SDK's lax rules; D's is the manifest's return_schema, and a success whose
// data is not a D fails the call. Functions are listed (in the manifest,
// the catalog) in the order they are declared. Every declaration is
// checked when it runs, at start-up: a malformed or inconsistent one
// panics with a message naming it, never at first call.
//
// Handlers receive a *ctx.Call and their decoded parameters, and return a
// Result (Success, Fail) or an error, which the host maps to the
// platform's error codes: upstream failures to BACKEND_*, broken cache
// invariants to CACHE_CONTRACT_VIOLATION, a *CodedError to its own code.
package runtime
