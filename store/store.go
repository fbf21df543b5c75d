package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/internal/pyjson"
)

// Default limits (DESIGN §11).
const (
	DefaultMaxDocumentBytes = 256 << 10
	DefaultMaxDocuments     = 10_000
	DefaultTimeout          = 5 * time.Second
	defaultLimit            = 100
	maxLimit                = 1000
)

// Options configures a Store.
type Options struct {
	// Backend keeps the documents. Default: a new Memory.
	Backend Backend
	// MaxDocumentBytes caps a document's JSON. Default 256 KiB.
	MaxDocumentBytes int
	// MaxDocuments caps the documents of one collection and user.
	// Default 10 000.
	MaxDocuments int
	// Timeout bounds each operation within the call's own deadline.
	// Default 5 s.
	Timeout time.Duration
	// Now is the clock of created_at and updated_at. Default time.Now.
	Now func() time.Time
}

// Store runs document operations over a backend, within its limits.
type Store struct {
	backend  Backend
	maxBytes int
	maxDocs  int
	timeout  time.Duration
	now      func() time.Time
}

// New returns a store for opts.
func New(opts Options) *Store {
	s := &Store{backend: opts.Backend, maxBytes: opts.MaxDocumentBytes, maxDocs: opts.MaxDocuments, timeout: opts.Timeout, now: opts.Now}
	if s.backend == nil {
		s.backend = NewMemory()
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxDocumentBytes
	}
	if s.maxDocs <= 0 {
		s.maxDocs = DefaultMaxDocuments
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.backend }

// Op is one store operation of a call, as its trace shows it.
type Op struct {
	// Op is create, get, update, delete, query or count.
	Op         string
	Collection string
	Duration   time.Duration
	// Outcome is ok, missing (get or delete of no document), conflict,
	// limit, invalid or unavailable. A write refused for its size before
	// it reached the backend is recorded as op "write".
	Outcome string
}

// Client is a store bound to one call's app and user, recording the
// call's operations. Its zero value is unusable: Bind it.
type Client struct {
	store       *Store
	app, user   string
	collections *Collections
	mu          sync.Mutex
	ops         []Op
}

// Bind makes c the client of app's user over s, for the collections the
// app declared. It is a method on a value the caller holds, so a call's
// client costs no allocation of its own.
func (c *Client) Bind(s *Store, app, user string, collections *Collections) {
	c.store, c.app, c.user, c.collections = s, app, user, collections
}

// Ops returns the operations recorded so far.
func (c *Client) Ops() []Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ops)
}

func (c *Client) record(op, collection string, start time.Time, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, Op{Op: op, Collection: collection, Duration: time.Since(start), Outcome: outcome})
}

// run runs one backend operation under the store's timeout, records it
// and turns the backend's answers into the package's errors.
func (c *Client) run(ctx context.Context, op, collection, id string, f func(ctx context.Context, s Scope) error) error {
	if c.store == nil {
		return invalid("the call has no store")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.store.timeout)
	defer cancel()
	err := f(ctx, Scope{App: c.app, User: c.user, Collection: collection})
	var limit *LimitError
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, errMissing):
		outcome, err = "missing", nil
	case errors.Is(err, errExists), errors.Is(err, errStale):
		outcome, err = "conflict", &ConflictError{Collection: collection, ID: id, Exists: errors.Is(err, errExists)}
	case errors.Is(err, errFull):
		outcome, err = "limit", &LimitError{Collection: collection, Limit: c.store.maxDocs}
	case errors.As(err, &limit):
		outcome = "limit"
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrUnstorable):
		outcome = "invalid"
	default:
		outcome, err = "unavailable", fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	c.record(op, collection, start, outcome)
	return err
}

// errMissing is run's word for an operation that found no document.
var errMissing = errors.New("store: no such document")

func (c *Client) create(ctx context.Context, collection, id string, v any) (Record, error) {
	r, err := c.encodeRecord(collection, id, v)
	if err != nil {
		return Record{}, err
	}
	if err := c.run(ctx, "create", collection, id, func(ctx context.Context, s Scope) error {
		return c.store.backend.Create(ctx, s, r, c.store.maxDocs)
	}); err != nil {
		return Record{}, err
	}
	return r, nil
}

func (c *Client) update(ctx context.Context, collection, id string, v any, ifMatch string) (Record, error) {
	r, err := c.encodeRecord(collection, id, v)
	if err != nil {
		return Record{}, err
	}
	var stored Record
	err = c.run(ctx, "update", collection, id, func(ctx context.Context, s Scope) (err error) {
		stored, err = c.store.backend.Put(ctx, s, r, ifMatch, c.store.maxDocs)
		return err
	})
	return stored, err
}

// encodeRecord encodes v as the record of a write.
func (c *Client) encodeRecord(collection, id string, v any) (Record, error) {
	data, err := jsonx.Marshal(v)
	if err != nil {
		return Record{}, invalid("document does not encode: %v", err)
	}
	r, err := c.store.newRecord(collection, id, data)
	var limit *LimitError
	if errors.As(err, &limit) {
		c.record("write", collection, time.Now(), "limit")
	}
	return r, err
}

// newRecord is the record of a write of data, a JSON object, under id,
// checked against what every backend can keep and the size limit.
func (s *Store) newRecord(collection, id string, data []byte) (Record, error) {
	switch {
	case !idPattern.MatchString(id):
		return Record{}, invalid("document id must match %s", idPattern)
	case holdsNUL(data):
		return Record{}, ErrUnstorable
	case len(data) > s.maxBytes:
		return Record{}, &LimitError{Collection: collection, Bytes: len(data), Limit: s.maxBytes}
	}
	etag, err := Etag(data)
	if err != nil {
		return Record{}, invalid("document does not encode: %v", err)
	}
	// Postgres keeps microseconds: so does every backend.
	now := s.now().UTC().Truncate(time.Microsecond)
	return Record{ID: id, Data: data, Etag: etag, CreatedAt: now, UpdatedAt: now}, nil
}

// holdsNUL reports whether JSON holds U+0000, which PostgreSQL's jsonb
// cannot keep.
func holdsNUL(json []byte) bool { return bytes.Contains(json, []byte(`\u0000`)) }

func (c *Client) get(ctx context.Context, collection, id string) (Record, bool, error) {
	if !idPattern.MatchString(id) {
		return Record{}, false, nil // no such id can exist
	}
	var r Record
	var found bool
	err := c.run(ctx, "get", collection, id, func(ctx context.Context, s Scope) (err error) {
		if r, found, err = c.store.backend.Get(ctx, s, id); err == nil && !found {
			return errMissing
		}
		return err
	})
	return r, found, err
}

func (c *Client) delete(ctx context.Context, collection, id string) (bool, error) {
	if !idPattern.MatchString(id) {
		return false, nil
	}
	var existed bool
	err := c.run(ctx, "delete", collection, id, func(ctx context.Context, s Scope) (err error) {
		if existed, err = c.store.backend.Delete(ctx, s, id); err == nil && !existed {
			return errMissing
		}
		return err
	})
	return existed, err
}

func (c *Client) query(ctx context.Context, collection string, q Query) ([]Record, string, bool, error) {
	where, err := filters(q.Where)
	if err != nil {
		return nil, "", false, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = defaultLimit
	case limit < 1 || limit > maxLimit:
		return nil, "", false, invalid("limit must be within [1, %d]", maxLimit)
	}
	order := q.OrderBy
	if order == "" {
		order = "id"
	} else if !fieldPattern.MatchString(order) {
		return nil, "", false, invalid("order_by must name a top-level field")
	}
	sel := Selection{Where: where, Order: Order{Field: order, Desc: q.Desc}, Limit: limit + 1}
	tag := queryTag(sel)
	if sel.After, err = parseCursor(q.Cursor, tag); err != nil {
		return nil, "", false, err
	}
	var rs []Record
	err = c.run(ctx, "query", collection, "", func(ctx context.Context, s Scope) (err error) {
		rs, err = c.store.backend.Query(ctx, s, sel)
		return err
	})
	if err != nil {
		return nil, "", false, err
	}
	if len(rs) <= limit {
		return rs, "", false, nil
	}
	last := rs[limit-1]
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(last.Data, &fields)
	return rs[:limit], cursorFor(positionOf(last, order, fields[order]), tag), true, nil
}

func (c *Client) count(ctx context.Context, collection string, where map[string]any) (int, error) {
	fs, err := filters(where)
	if err != nil {
		return 0, err
	}
	var n int
	err = c.run(ctx, "count", collection, "", func(ctx context.Context, s Scope) (err error) {
		n, err = c.store.backend.Count(ctx, s, fs)
		return err
	})
	return n, err
}

// filters turns a query's where into the backend's filters, sorted by
// field.
func filters(where map[string]any) ([]Filter, error) {
	fs := make([]Filter, 0, len(where))
	for field, v := range where {
		if !fieldPattern.MatchString(field) {
			return nil, invalid("a filter must name a top-level field")
		}
		raw, err := jsonx.Marshal(v)
		switch {
		case err != nil || (len(raw) > 0 && (raw[0] == '{' || raw[0] == '[')):
			return nil, invalid("filter %s: the value must be a string, number, boolean or null", field)
		case holdsNUL(raw):
			return nil, ErrUnstorable
		}
		fs = append(fs, Filter{Field: field, Value: raw})
	}
	slices.SortFunc(fs, func(a, b Filter) int { return strings.Compare(a.Field, b.Field) })
	return fs, nil
}

// A cursor is the position of a page's last document and a tag of the
// query it belongs to, opaque to extensions.
type cursor struct {
	Position
	Query string `json:"q"`
}

// queryTag names a selection's filters and order, so that a cursor is
// refused by any other query.
func queryTag(sel Selection) string {
	h := sha256.New()
	for _, f := range sel.Where {
		fmt.Fprintf(h, "%s=%s;", f.Field, f.Value)
	}
	fmt.Fprintf(h, "order=%s,%t", sel.Order.Field, sel.Order.Desc)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func cursorFor(p Position, tag string) string {
	raw, _ := json.Marshal(cursor{Position: p, Query: tag})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func parseCursor(s, tag string) (*Position, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Query != tag || c.ID == "" {
		return nil, invalid("the cursor is not one this query gave")
	}
	return &c.Position, nil
}

// Etag returns the etag of a document's JSON: the SHA-256, in hex, of its
// canonical form (keys sorted, no spaces, Python's json.dumps escapes), as
// the SDK's MockStore computes it.
func Etag(data []byte) (string, error) {
	canonical, err := pyjson.AppendSorted(nil, data)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

// newID returns a new document id: 16 random hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
