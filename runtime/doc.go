// Package runtime declares extensions and runs their functions.
//
// An extension is declared at package scope, the way the Python SDK's
// decorators declare it at module scope:
//
//	var ext = runtime.NewExtension(runtime.ExtensionInfo{AppID: "mail-client", Version: "1.0.0", ...})
//	var chat = ext.ChatTool("tool_mail_chat", "Mail Client — read, search, and send email.")
//	var inboxPages = runtime.CacheModel[InboxPage](ext, "inbox_page")
//
//	func init() {
//		runtime.AddFunction(chat, runtime.Function[ListInboxParams]{
//			Name: "list_inbox", Description: "...", ActionType: runtime.Read, Handler: listInbox,
//		})
//		registry.Register(ext)
//	}
//
// Declarations are checked when they run, at start-up: a malformed or
// duplicate name panics with a message naming it.
//
// A Dispatcher serves a set of extensions: Call validates a request's
// parameters against the function's JSON Schema (derived once from the
// parameter struct), decodes them, builds the call's ctx.Call, runs the
// handler under the call deadline with panic recovery, and returns the
// ActionResult with the platform's error codes, panel refreshes and event.
//
// Manifest, Catalog and OpenAITools render the declarations for the
// platform: imperal.json and the tool catalog with JSON Schemas.
package runtime
