package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Memory is the embedded backend: documents in this process, gone when
// it exits. It is the dev server's and the tests' default, and answers
// every query as Postgres does.
type Memory struct {
	mu     sync.RWMutex
	scopes map[Scope]map[string]memoryDoc
}

type memoryDoc struct {
	Record
	fields map[string]json.RawMessage // the top-level fields, for filters and order
}

// NewMemory returns an empty memory backend.
func NewMemory() *Memory { return &Memory{scopes: make(map[Scope]map[string]memoryDoc)} }

func newMemoryDoc(r Record) memoryDoc {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(r.Data, &fields)
	r.Data = bytes.Clone(r.Data)
	return memoryDoc{Record: r, fields: fields}
}

// Create implements Backend.
func (m *Memory) Create(_ context.Context, s Scope, r Record, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	docs := m.scopes[s]
	switch _, exists := docs[r.ID]; {
	case exists:
		return errExists
	case len(docs) >= max:
		return errFull
	}
	if docs == nil {
		docs = make(map[string]memoryDoc)
		m.scopes[s] = docs
	}
	docs[r.ID] = newMemoryDoc(r)
	return nil
}

// Get implements Backend.
func (m *Memory) Get(_ context.Context, s Scope, id string) (Record, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.scopes[s][id]
	return d.copy(), ok, nil
}

// Put implements Backend.
func (m *Memory) Put(_ context.Context, s Scope, r Record, ifMatch string, max int) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	docs := m.scopes[s]
	if old, exists := docs[r.ID]; exists {
		if ifMatch != "" && old.Etag != ifMatch {
			return Record{}, errStale
		}
		r.CreatedAt = old.CreatedAt
	} else if len(docs) >= max {
		return Record{}, errFull
	}
	if docs == nil {
		docs = make(map[string]memoryDoc)
		m.scopes[s] = docs
	}
	d := newMemoryDoc(r)
	docs[r.ID] = d
	return d.copy(), nil
}

// Delete implements Backend.
func (m *Memory) Delete(_ context.Context, s Scope, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.scopes[s][id]
	delete(m.scopes[s], id)
	return ok, nil
}

// Query implements Backend.
func (m *Memory) Query(_ context.Context, s Scope, sel Selection) ([]Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var found []memoryDoc
	for _, d := range m.scopes[s] {
		if d.matches(sel.Where) {
			found = append(found, d)
		}
	}
	order := func(a, b Position) int {
		c := comparePositions(a, b)
		if sel.Order.Desc {
			return -c
		}
		return c
	}
	slices.SortFunc(found, func(a, b memoryDoc) int {
		return order(a.position(sel.Order.Field), b.position(sel.Order.Field))
	})
	out := make([]Record, 0, min(len(found), sel.Limit))
	for _, d := range found {
		if len(out) == sel.Limit {
			break
		}
		if sel.After == nil || order(d.position(sel.Order.Field), *sel.After) > 0 {
			out = append(out, d.copy())
		}
	}
	return out, nil
}

// Count implements Backend.
func (m *Memory) Count(_ context.Context, s Scope, where []Filter) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, d := range m.scopes[s] {
		if d.matches(where) {
			n++
		}
	}
	return n, nil
}

// Clear implements Backend.
func (m *Memory) Clear(_ context.Context, app, user string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for s, docs := range m.scopes {
		if s.App == app && s.User == user {
			n += len(docs)
			delete(m.scopes, s)
		}
	}
	return n, nil
}

func (d memoryDoc) copy() Record {
	r := d.Record
	r.Data = bytes.Clone(r.Data)
	return r
}

func (d memoryDoc) matches(where []Filter) bool {
	for _, f := range where {
		v, ok := d.fields[f.Field]
		if !ok || !equalValues(v, f.Value) {
			return false
		}
	}
	return true
}

// equalValues reports whether two JSON scalars are equal as Postgres's
// jsonb containment finds them: numbers by their exact value (not as
// float64, which would make 2^53 and 2^53+1 one number), the rest as
// ordering compares them.
func equalValues(a, b json.RawMessage) bool {
	va, vb := parseValue(a), parseValue(b)
	if va.rank == 2 && vb.rank == 2 {
		ra, okA := new(big.Rat).SetString(string(bytes.TrimSpace(a)))
		rb, okB := new(big.Rat).SetString(string(bytes.TrimSpace(b)))
		return okA && okB && ra.Cmp(rb) == 0
	}
	return compareValues(va, vb) == 0
}

func (d memoryDoc) position(field string) Position {
	return positionOf(Record{ID: d.ID, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}, field, d.fields[field])
}

// positionOf returns the position of r in the order of field, given the
// field's raw value (for a data field).
func positionOf(r Record, field string, raw json.RawMessage) Position {
	switch field {
	case "id":
		return Position{ID: r.ID}
	case "created_at":
		return Position{Time: r.CreatedAt, ID: r.ID}
	case "updated_at":
		return Position{Time: r.UpdatedAt, ID: r.ID}
	}
	v := parseValue(raw)
	return Position{Rank: v.rank, Num: v.num, Text: v.text, ID: r.ID}
}

func comparePositions(a, b Position) int {
	return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Num, b.Num), strings.Compare(a.Text, b.Text),
		a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
}

// value is a JSON value as ordering sees it: its kind's rank (missing and
// null, string, number, boolean, array, object, as Postgres ranks jsonb),
// then its number or its text.
type value struct {
	rank int
	num  float64
	text string
}

func parseValue(raw json.RawMessage) value {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return value{}
	}
	switch raw[0] {
	case 'n':
		return value{}
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return value{rank: 1, text: s}
	case 't', 'f':
		return value{rank: 3, text: string(raw)}
	case '[':
		return value{rank: 4, text: string(raw)}
	case '{':
		return value{rank: 5, text: string(raw)}
	}
	f, _ := strconv.ParseFloat(string(raw), 64)
	return value{rank: 2, num: f}
}

func compareValues(a, b value) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.num, b.num), strings.Compare(a.text, b.text))
}
