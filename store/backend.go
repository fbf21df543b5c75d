package store

import (
	"context"
	"encoding/json"
	"time"
)

// Scope is where an operation happens: one collection of one app's user.
type Scope struct {
	App, User, Collection string
}

// Record is a document as a backend holds it.
type Record struct {
	ID string
	// Data is the document's JSON object.
	Data json.RawMessage
	// Etag is the SHA-256 of the canonical JSON of Data (see Etag).
	Etag                 string
	CreatedAt, UpdatedAt time.Time
}

// Filter matches documents whose top-level Field equals Value, a JSON
// scalar (string, number, boolean or null; numbers compare by value). A
// document without the field does not match, not even null.
type Filter struct {
	Field string
	Value json.RawMessage
}

// Order sorts documents by one field, then by id. Field is a top-level
// data field, or one of the document's own: "id", "created_at",
// "updated_at". Values of a data field sort by type first (missing and
// null, strings by their bytes, numbers by value, booleans, arrays,
// objects), then by value.
type Order struct {
	Field string
	Desc  bool
}

// Selection is a query as a backend runs it: the documents of a scope
// matching every filter, in order, after After (when set), at most Limit.
type Selection struct {
	Where []Filter
	Order Order
	After *Position
	Limit int
}

// Position is where a document sits in an order: its sort key and id. A
// page ends at the position of its last document; the next starts after
// it, so documents created or deleted between pages shift nothing.
type Position struct {
	// Rank, Num and Text are a data field's sort key (see Order): the
	// kind's rank, the number, the text.
	Rank int     `json:"r,omitempty"`
	Num  float64 `json:"n,omitempty"`
	Text string  `json:"t,omitempty"`
	// Time is the key of created_at and updated_at.
	Time time.Time `json:"ts,omitzero"`
	ID   string    `json:"id"`
}

// Backend keeps the documents. Every method is bound to its scope: no
// argument can reach another scope's documents. Errors other than the
// package's own answers mean the backend did not answer.
type Backend interface {
	// Create stores r, new. It answers errExists when the scope holds
	// r.ID, errFull when it holds max documents.
	Create(ctx context.Context, s Scope, r Record, max int) error
	// Get returns the document id, and whether there was one.
	Get(ctx context.Context, s Scope, id string) (Record, bool, error)
	// Put replaces the document r.ID, keeping its creation time, or
	// creates it (errFull when the scope holds max documents). With
	// ifMatch, an existing document is replaced only when its etag is
	// ifMatch (errStale otherwise), atomically. It returns what is stored.
	Put(ctx context.Context, s Scope, r Record, ifMatch string, max int) (Record, error)
	// Delete removes the document id and reports whether it existed.
	Delete(ctx context.Context, s Scope, id string) (bool, error)
	// Query returns the documents sel selects.
	Query(ctx context.Context, s Scope, sel Selection) ([]Record, error)
	// Count returns how many documents match every filter.
	Count(ctx context.Context, s Scope, where []Filter) (int, error)
	// Clear removes every document of app's user, in every collection,
	// and returns how many there were.
	Clear(ctx context.Context, app, user string) (int, error)
}
