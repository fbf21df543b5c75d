package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// Stored is one entry as a backend holds it.
type Stored struct {
	// StorageKey is the entry's backend key.
	StorageKey string
	// TTL is the time the entry has left.
	TTL time.Duration
	// Envelope is the stored envelope; do not modify it.
	Envelope []byte
	// Value is the decoded value the backend hands out on hits, when it
	// keeps one next to the envelope (the memory backend, and Redis's L1
	// for the entries it holds); else nil.
	Value any
}

// Scanner is a Backend that can list its entries by storage-key prefix.
// Both backends are; harnesses and operators' tools use it, calls never do.
type Scanner interface {
	// Scan returns the live entries whose storage key starts with prefix.
	Scan(ctx context.Context, prefix string) ([]Stored, error)
}

// EntryInfo describes one cache entry, for inspection.
type EntryInfo struct {
	AppID  string
	UserID string
	Model  string
	// Key is the caller's key when this store has seen it (see
	// Options.KeyNames); else empty, since the keyspace holds only its hash.
	Key string
	// KeyHash is the key's hash, as in the storage key.
	KeyHash    string
	StorageKey string
	// TTL is the time the entry has left.
	TTL time.Duration
	// Envelope is the stored envelope, {"model", "version", "data",
	// "cached_at"}; do not modify it.
	Envelope []byte
	// Value is the decoded value shared by hits, when the backend keeps one.
	Value any
}

// Entries lists the entries of appID for userID, or for every user when
// userID is empty, sorted by storage key. The backend must be a Scanner.
func (s *Store) Entries(ctx context.Context, appID, userID string) ([]EntryInfo, error) {
	scanner, ok := s.backend.(Scanner)
	if !ok {
		return nil, fmt.Errorf("cache: entries: the %T backend cannot list entries", s.backend)
	}
	prefix := "extcache:{" + appID + ":"
	if userID != "" {
		prefix = storagePrefix(appID, EscapeID(userID))
	}
	stored, err := scanner.Scan(ctx, prefix)
	if err != nil {
		return nil, err
	}
	infos := make([]EntryInfo, 0, len(stored))
	for _, st := range stored {
		info, ok := parseStorageKey(st.StorageKey)
		if !ok || info.AppID != appID {
			continue
		}
		info.TTL, info.Envelope, info.Value = st.TTL, st.Envelope, st.Value
		if s.keyNames != nil {
			info.Key, _ = s.keyNames.GetIfPresent(info.KeyHash)
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b EntryInfo) int { return strings.Compare(a.StorageKey, b.StorageKey) })
	return infos, nil
}

// Changed returns the entries of appID whose shared value no longer
// encodes as the data of its envelope: values read from the cache are
// shared by every hit, so a handler that changed one changed what other
// calls read. Harnesses call it after each call; backends that keep no
// decoded value have nothing to check.
func (s *Store) Changed(ctx context.Context, appID string) ([]EntryInfo, error) {
	entries, err := s.Entries(ctx, appID, "")
	if err != nil {
		return nil, err
	}
	var changed []EntryInfo
	for _, e := range entries {
		if e.Value == nil {
			continue
		}
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		now, err := jsonx.Marshal(e.Value)
		if err != nil || jsonx.Unmarshal(e.Envelope, &env) != nil || !bytes.Equal(now, env.Data) {
			changed = append(changed, e)
		}
	}
	return changed, nil
}

// Purge removes the entries of appID for userID, or for every user when
// userID is empty, and returns how many it found to remove (one that
// expired meanwhile is counted all the same). Deletions are announced
// like any other, so the L1 of every replica drops them too.
func (s *Store) Purge(ctx context.Context, appID, userID string) (int, error) {
	entries, err := s.Entries(ctx, appID, userID)
	if err != nil {
		return 0, err
	}
	// One Delete per user: a user's keys share a hash tag, and so a slot.
	byUser := make(map[string][]string)
	for _, e := range entries {
		byUser[e.UserID] = append(byUser[e.UserID], e.StorageKey)
	}
	for _, keys := range byUser {
		if err := s.backend.Delete(ctx, keys); err != nil {
			return 0, fmt.Errorf("cache: purge: %w", err)
		}
	}
	return len(entries), nil
}

// parseStorageKey splits extcache:{<app>:<user>}:<model>:<hash>.
func parseStorageKey(key string) (EntryInfo, bool) {
	rest, ok := strings.CutPrefix(key, "extcache:{")
	if !ok {
		return EntryInfo{}, false
	}
	// App ids hold no ':', and '}' is escaped in user ids: the first of
	// each ends its part.
	app, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return EntryInfo{}, false
	}
	user, rest, ok := strings.Cut(rest, "}:")
	if !ok {
		return EntryInfo{}, false
	}
	sep := strings.LastIndexByte(rest, ':')
	if sep <= 0 {
		return EntryInfo{}, false
	}
	return EntryInfo{
		AppID: app, UserID: unescapeID(user), Model: rest[:sep], KeyHash: rest[sep+1:], StorageKey: key,
	}, true
}

// unescapeID reverses EscapeID.
func unescapeID(id string) string {
	if !strings.Contains(id, "%") {
		return id
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		if id[i] == '%' && i+2 < len(id) {
			if hi, lo := unhex(id[i+1]), unhex(id[i+2]); hi >= 0 && lo >= 0 {
				b.WriteByte(byte(hi<<4 | lo))
				i += 2
				continue
			}
		}
		b.WriteByte(id[i])
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// DeleteEntry drops one entry of userID in appID by its storage key, as
// Entries names it. A key that is not one of that user's entries is an
// error; a missing entry is none.
func (s *Store) DeleteEntry(ctx context.Context, appID, userID, storageKey string) error {
	if userID == "" || !strings.HasPrefix(storageKey, storagePrefix(appID, EscapeID(userID))) {
		return errors.New("cache: delete entry: not an entry of that app and user")
	}
	if err := s.guarded(ctx, "delete", func() error { return s.backend.Delete(ctx, []string{storageKey}) }); err != nil {
		return fmt.Errorf("cache: delete entry: %w", err)
	}
	return nil
}
