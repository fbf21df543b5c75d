package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Stored is a document as the harness lists and seeds it: untyped.
type Stored struct {
	App        string          `json:"app"`
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Etag       string          `json:"etag"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Data       json.RawMessage `json:"data"`
}

// List returns every document of app's user in the given collections, in
// collection then id order, for the harness.
func (s *Store) List(ctx context.Context, app, user string, collections []string) ([]Stored, error) {
	var out []Stored
	for _, coll := range collections {
		for sel := (Selection{Order: Order{Field: "id"}, Limit: maxLimit}); ; {
			rs, err := s.backend.Query(ctx, Scope{App: app, User: user, Collection: coll}, sel)
			if err != nil {
				return nil, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
			}
			for _, r := range rs {
				out = append(out, Stored{App: app, Collection: coll, ID: r.ID, Etag: r.Etag, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Data: r.Data})
			}
			if len(rs) < maxLimit {
				break
			}
			sel.After = &Position{ID: rs[len(rs)-1].ID}
		}
	}
	return out, nil
}

// Seed writes a document as a test prepares it, replacing any under its
// id, within the store's limits. data must be a JSON object.
func (s *Store) Seed(ctx context.Context, app, user, collection, id string, data json.RawMessage) (Stored, error) {
	switch {
	case !collectionNamePattern.MatchString(collection):
		return Stored{}, invalid("collection name must match %s", collectionNamePattern)
	case len(data) == 0 || !json.Valid(data) || data[0] != '{':
		return Stored{}, invalid("data must be a JSON object")
	}
	r, err := s.newRecord(collection, id, data)
	if err != nil {
		return Stored{}, err
	}
	r, err = s.backend.Put(ctx, Scope{App: app, User: user, Collection: collection}, r, "", s.maxDocs)
	switch {
	case errors.Is(err, errFull):
		return Stored{}, &LimitError{Collection: collection, Limit: s.maxDocs}
	case err != nil:
		return Stored{}, fmt.Errorf("%w: seed: %w", ErrUnavailable, err)
	}
	return Stored{App: app, Collection: collection, ID: r.ID, Etag: r.Etag, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Data: r.Data}, nil
}

// Clear removes every document of app's user and returns how many there
// were.
func (s *Store) Clear(ctx context.Context, app, user string) (int, error) {
	n, err := s.backend.Clear(ctx, app, user)
	if err != nil {
		return n, fmt.Errorf("%w: clear: %w", ErrUnavailable, err)
	}
	return n, nil
}
