// Package store is the durable per-user document store of DESIGN §11, the
// SDK's ctx.store: typed collections declared per extension, each document
// carrying its id, etag, creation and update times, every operation bound
// to one app and one user.
//
// A Store runs the operations over a Backend: Memory, the embedded default,
// or Postgres. A Client binds a Store to one call's app and user and
// records the call's operations for its trace; a Collection is the typed
// handle an extension declares, the only way to reach a collection's
// documents.
package store
