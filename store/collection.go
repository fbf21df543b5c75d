package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

var (
	collectionNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	idPattern             = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	fieldPattern          = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Collections is the ordered set of collections one extension declares,
// filled at start-up and only read after.
type Collections struct {
	owner  string
	names  []string
	decode map[string]func(json.RawMessage) error // does a document decode into the collection's type
	sealed atomic.Bool
}

// NewCollections returns an empty set for the extension owner (its app id).
func NewCollections(owner string) *Collections {
	return &Collections{owner: owner, decode: make(map[string]func(json.RawMessage) error)}
}

// Check reports whether data is a document of the collection name: one
// the extension declares, holding JSON that decodes into its type.
func (cs *Collections) Check(name string, data json.RawMessage) error {
	decode, ok := cs.decode[name]
	if !ok {
		return invalid("%s declares no collection %q", cs.owner, name)
	}
	if err := decode(data); err != nil {
		return invalid("the data does not decode into the collection's type")
	}
	return nil
}

// Seal closes the set: from now on Register panics.
func (cs *Collections) Seal() { cs.sealed.Store(true) }

// Names returns the declared collection names in declaration order.
func (cs *Collections) Names() []string { return slices.Clone(cs.names) }

// Collection is the typed handle on one declared collection: documents of
// it hold values of T, and it is the only way to reach them.
type Collection[T any] struct {
	name string
	set  *Collections
}

// Register declares a collection called name holding values of the struct
// type T. It panics, naming the collection, when the name is not
// snake_case (^[a-z][a-z0-9_]{0,63}$), is declared twice, or T is not a
// struct that encodes: declarations run at start-up.
func Register[T any](cs *Collections, name string) *Collection[T] {
	switch t := reflect.TypeFor[T](); {
	case cs.sealed.Load():
		panic(fmt.Sprintf("store: %s: cannot declare collection %q: the extension is already being served", cs.owner, name))
	case !collectionNamePattern.MatchString(name):
		panic(fmt.Sprintf("store: %s: collection name %q must match %s", cs.owner, name, collectionNamePattern))
	case slices.Contains(cs.names, name):
		panic(fmt.Sprintf("store: %s: collection %q declared twice", cs.owner, name))
	case t.Kind() != reflect.Struct:
		panic(fmt.Sprintf("store: %s: collection %q must hold a struct type, not %s", cs.owner, name, t))
	default:
		if err := jsonx.Encodable(t); err != nil {
			panic(fmt.Sprintf("store: %s: collection %q: %v", cs.owner, name, err))
		}
	}
	cs.names = append(cs.names, name)
	cs.decode[name] = func(data json.RawMessage) error {
		var v T
		return jsonx.Unmarshal(data, &v)
	}
	return &Collection[T]{name: name, set: cs}
}

// Name returns the collection's name.
func (c *Collection[T]) Name() string { return c.name }

// Document is one document of a collection.
type Document[T any] struct {
	ID string
	// Etag names this version of the document: hand it back as if_match.
	Etag                 string
	CreatedAt, UpdatedAt time.Time
	Data                 T
}

// Page is one page of a query's documents.
type Page[T any] struct {
	Documents []Document[T]
	// Cursor asks for the next page; empty when there is none.
	Cursor  string
	HasMore bool
}

// Query selects documents: those whose top-level fields equal every value
// of Where (scalars: strings, numbers, booleans, null), sorted by OrderBy
// (a top-level field, or "id", "created_at", "updated_at"; default "id"),
// Desc for descending, at most Limit (1–1000; 0 means 100) from Cursor.
type Query struct {
	Where   map[string]any
	OrderBy string
	Desc    bool
	Limit   int
	Cursor  string
}

// Create stores v as a new document with a generated id.
func (c *Collection[T]) Create(ctx context.Context, cl *Client, v T) (Document[T], error) {
	return c.CreateWithID(ctx, cl, newID(), v)
}

// CreateWithID stores v as a new document called id; an existing id is a
// *ConflictError.
func (c *Collection[T]) CreateWithID(ctx context.Context, cl *Client, id string, v T) (Document[T], error) {
	if err := c.check(cl); err != nil {
		return Document[T]{}, err
	}
	r, err := cl.create(ctx, c.name, id, v)
	if err != nil {
		return Document[T]{}, err
	}
	return document(r, v), nil
}

// Get returns the document id, and whether there is one.
func (c *Collection[T]) Get(ctx context.Context, cl *Client, id string) (Document[T], bool, error) {
	if err := c.check(cl); err != nil {
		return Document[T]{}, false, err
	}
	r, ok, err := cl.get(ctx, c.name, id)
	if err != nil || !ok {
		return Document[T]{}, false, err
	}
	d, err := decode[T](c.name, r)
	return d, err == nil, err
}

// Update replaces the document id with v, or creates it. With ifMatch,
// an existing document is replaced only when its etag is ifMatch; a stale
// one is a *ConflictError and nothing is written.
func (c *Collection[T]) Update(ctx context.Context, cl *Client, id string, v T, ifMatch string) (Document[T], error) {
	if err := c.check(cl); err != nil {
		return Document[T]{}, err
	}
	r, err := cl.update(ctx, c.name, id, v, ifMatch)
	if err != nil {
		return Document[T]{}, err
	}
	return document(r, v), nil
}

// Delete removes the document id and reports whether it existed.
func (c *Collection[T]) Delete(ctx context.Context, cl *Client, id string) (bool, error) {
	if err := c.check(cl); err != nil {
		return false, err
	}
	return cl.delete(ctx, c.name, id)
}

// Query returns a page of the documents q selects.
func (c *Collection[T]) Query(ctx context.Context, cl *Client, q Query) (Page[T], error) {
	if err := c.check(cl); err != nil {
		return Page[T]{}, err
	}
	rs, cursor, more, err := cl.query(ctx, c.name, q)
	if err != nil {
		return Page[T]{}, err
	}
	page := Page[T]{Documents: make([]Document[T], 0, len(rs)), Cursor: cursor, HasMore: more}
	for _, r := range rs {
		d, err := decode[T](c.name, r)
		if err != nil {
			return Page[T]{}, err
		}
		page.Documents = append(page.Documents, d)
	}
	return page, nil
}

// Count returns how many documents match where (as Query.Where).
func (c *Collection[T]) Count(ctx context.Context, cl *Client, where map[string]any) (int, error) {
	if err := c.check(cl); err != nil {
		return 0, err
	}
	return cl.count(ctx, c.name, where)
}

func (c *Collection[T]) check(cl *Client) error {
	if cl == nil || cl.collections != c.set {
		return invalid("collection %q belongs to another extension than the call's", c.name)
	}
	return nil
}

func document[T any](r Record, v T) Document[T] {
	return Document[T]{ID: r.ID, Etag: r.Etag, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Data: v}
}

func decode[T any](collection string, r Record) (Document[T], error) {
	var v T
	if err := jsonx.Unmarshal(r.Data, &v); err != nil {
		return Document[T]{}, fmt.Errorf("store: %s: document %q does not decode: %w", collection, r.ID, err)
	}
	return document(r, v), nil
}
