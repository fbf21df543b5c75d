package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/testpg"
	"github.com/imperalcloud/exthost/store"
)

type account struct {
	Email    string `json:"email"`
	Provider string `json:"provider"`
	Port     any    `json:"port,omitempty"`
	Unread   int    `json:"unread"`
	Note     string `json:"note,omitempty"`
}

// backends returns a fresh backend of each kind, closed when the test ends.
func backends(t *testing.T) map[string]func(t *testing.T) store.Backend {
	return map[string]func(t *testing.T) store.Backend{
		"memory": func(*testing.T) store.Backend { return store.NewMemory() },
		"postgres": func(t *testing.T) store.Backend {
			p, err := store.OpenPostgres(context.Background(), store.PostgresOptions{URL: testpg.Schema(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			return p
		},
	}
}

// fixture is one backend's store with a declared collection and clients.
type fixture struct {
	store    *store.Store
	accounts *store.Collection[account]
	set      *store.Collections
}

func newFixture(t *testing.T, b store.Backend, opts store.Options) *fixture {
	set := store.NewCollections("mail-client")
	f := &fixture{set: set, accounts: store.Register[account](set, "mail_accounts")}
	opts.Backend = b
	f.store = store.New(opts)
	return f
}

func (f *fixture) client(app, user string) *store.Client {
	c := &store.Client{}
	c.Bind(f.store, app, user, f.set)
	return c
}

// forEachBackend runs test against every backend.
func forEachBackend(t *testing.T, opts store.Options, test func(t *testing.T, f *fixture)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { test(t, newFixture(t, open(t), opts)) })
	}
}

// The etag of a document is the SDK MockStore's, for the same data
// (testdata/sdk_etags.py computes them with the SDK itself).
func TestEtagIsTheSDKs(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk_etags.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name     string `json:"name"`
		DataJSON string `json:"data_json"`
		Etag     string `json:"etag"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got, err := store.Etag([]byte(c.DataJSON)); err != nil || got != c.Etag {
			t.Errorf("%s: Etag = %s, %v; the SDK says %s", c.Name, got, err, c.Etag)
		}
	}
	if len(cases) < 5 {
		t.Fatalf("only %d cases", len(cases))
	}
}

func TestDocumentLifecycle(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		created, err := f.accounts.Create(ctx, c, account{Email: "ann@example.com", Provider: "imap"})
		if err != nil || created.ID == "" || len(created.Etag) != 64 || created.CreatedAt.IsZero() {
			t.Fatalf("Create = %+v, %v", created, err)
		}
		got, ok, err := f.accounts.Get(ctx, c, created.ID)
		if err != nil || !ok || got.Data != created.Data || got.Etag != created.Etag || !got.CreatedAt.Equal(created.CreatedAt) {
			t.Fatalf("Get = %+v %v %v, want %+v", got, ok, err, created)
		}
		var conflict *store.ConflictError
		if _, err := f.accounts.CreateWithID(ctx, c, created.ID, account{Email: "other"}); !errors.As(err, &conflict) || !conflict.Exists {
			t.Fatalf("create of an existing id = %v, want a conflict", err)
		}

		updated, err := f.accounts.Update(ctx, c, created.ID, account{Email: "ann@example.com", Provider: "gmail"}, created.Etag)
		if err != nil || updated.Etag == created.Etag || !updated.CreatedAt.Equal(created.CreatedAt) || updated.UpdatedAt.Before(created.UpdatedAt) {
			t.Fatalf("Update with the current etag = %+v, %v", updated, err)
		}
		// A stale if_match writes nothing.
		if _, err := f.accounts.Update(ctx, c, created.ID, account{Email: "lost"}, created.Etag); !errors.As(err, &conflict) || conflict.Exists {
			t.Fatalf("Update with a stale etag = %v, want a conflict", err)
		}
		if got, _, _ := f.accounts.Get(ctx, c, created.ID); got.Data.Provider != "gmail" || got.Etag != updated.Etag {
			t.Fatalf("after a stale update the document is %+v", got)
		}
		// Update of a missing id creates it (as the SDK's MockStore).
		if d, err := f.accounts.Update(ctx, c, "acc-2", account{Email: "b"}, ""); err != nil || d.ID != "acc-2" {
			t.Fatalf("Update of a missing id = %+v, %v", d, err)
		}
		if n, err := f.accounts.Count(ctx, c, nil); err != nil || n != 2 {
			t.Fatalf("Count = %d, %v, want 2", n, err)
		}
		if existed, err := f.accounts.Delete(ctx, c, created.ID); !existed || err != nil {
			t.Fatalf("Delete = %v, %v", existed, err)
		}
		if existed, err := f.accounts.Delete(ctx, c, created.ID); existed || err != nil {
			t.Fatalf("second Delete = %v, %v, want false", existed, err)
		}
		if _, ok, err := f.accounts.Get(ctx, c, created.ID); ok || err != nil {
			t.Fatalf("Get after Delete = %v, %v", ok, err)
		}
		ops := c.Ops()
		if len(ops) == 0 || ops[0].Op != "create" || ops[0].Collection != "mail_accounts" || ops[0].Outcome != "ok" {
			t.Fatalf("recorded ops %+v", ops)
		}
	})
}

// One user never sees another's documents, nor one app another's, whatever
// id or filter is given.
func TestUsersAndAppsAreIsolated(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		ann, bob, other := f.client("mail-client", "ann"), f.client("mail-client", "bob"), f.client("other-app", "ann")
		if _, err := f.accounts.CreateWithID(ctx, ann, "a1", account{Email: "ann@x.io"}); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*store.Client{"another user": bob, "another app": other} {
			if _, ok, _ := f.accounts.Get(ctx, c, "a1"); ok {
				t.Errorf("%s reads ann's document", name)
			}
			if p, _ := f.accounts.Query(ctx, c, store.Query{Where: map[string]any{"email": "ann@x.io"}}); len(p.Documents) != 0 {
				t.Errorf("%s finds ann's document", name)
			}
			if existed, _ := f.accounts.Delete(ctx, c, "a1"); existed {
				t.Errorf("%s deletes ann's document", name)
			}
			// The same id is free for each of them.
			if _, err := f.accounts.CreateWithID(ctx, c, "a1", account{Email: "own"}); err != nil {
				t.Errorf("%s cannot use the id: %v", name, err)
			}
		}
		if d, _, _ := f.accounts.Get(ctx, ann, "a1"); d.Data.Email != "ann@x.io" {
			t.Fatalf("ann's document became %+v", d.Data)
		}
	})
}

func TestQueryFiltersOrdersAndPages(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		docs := []account{
			{Email: "e1", Provider: "imap", Unread: 3, Port: 993},
			{Email: "e2", Provider: "gmail", Unread: 10, Port: "none"},
			{Email: "e3", Provider: "imap", Unread: 1, Port: 143.0},
			{Email: "e4", Provider: "imap", Unread: 3},
			{Email: "e5", Provider: "outlook", Unread: 0, Port: true},
		}
		for i, d := range docs {
			if _, err := f.accounts.CreateWithID(ctx, c, fmt.Sprintf("d%d", i+1), d); err != nil {
				t.Fatal(err)
			}
		}
		emails := func(p store.Page[account]) string {
			var out []string
			for _, d := range p.Documents {
				out = append(out, d.Data.Email)
			}
			return strings.Join(out, ",")
		}
		cases := []struct {
			name string
			q    store.Query
			want string
		}{
			{"all, by id", store.Query{}, "e1,e2,e3,e4,e5"},
			{"string filter", store.Query{Where: map[string]any{"provider": "imap"}}, "e1,e3,e4"},
			{"two filters", store.Query{Where: map[string]any{"provider": "imap", "unread": 3}}, "e1,e4"},
			{"a number equals by value", store.Query{Where: map[string]any{"port": 143}}, "e3"},
			{"a boolean", store.Query{Where: map[string]any{"port": true}}, "e5"},
			{"no match", store.Query{Where: map[string]any{"provider": "IMAP"}}, ""},
			{"by number, then id", store.Query{OrderBy: "unread"}, "e5,e3,e1,e4,e2"},
			{"descending", store.Query{OrderBy: "unread", Desc: true}, "e2,e4,e1,e3,e5"},
			{"by kind, then value; missing first", store.Query{OrderBy: "port"}, "e4,e2,e3,e1,e5"},
			{"by string", store.Query{OrderBy: "provider"}, "e2,e1,e3,e4,e5"},
			{"by creation", store.Query{OrderBy: "created_at", Desc: true, Limit: 2}, "e5,e4"},
			{"limit", store.Query{Limit: 2}, "e1,e2"},
		}
		for _, tc := range cases {
			p, err := f.accounts.Query(ctx, c, tc.q)
			if err != nil || emails(p) != tc.want {
				t.Errorf("%s: %q, %v; want %q", tc.name, emails(p), err, tc.want)
			}
		}
		// Pages cover every match exactly once, and say when there is more.
		var seen []string
		q := store.Query{OrderBy: "unread", Limit: 2}
		for range 10 {
			p, err := f.accounts.Query(ctx, c, q)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, emails(p))
			if !p.HasMore {
				if p.Cursor != "" {
					t.Fatal("a last page with a cursor")
				}
				break
			}
			q.Cursor = p.Cursor
		}
		if got := strings.Join(seen, "|"); got != "e5,e3|e1,e4|e2" {
			t.Fatalf("pages %s", got)
		}
		if n, err := f.accounts.Count(ctx, c, map[string]any{"provider": "imap"}); n != 3 || err != nil {
			t.Fatalf("Count = %d, %v", n, err)
		}
		for name, bad := range map[string]store.Query{
			"limit over 1000": {Limit: 1001},
			"negative limit":  {Limit: -1},
			"foreign cursor":  {Cursor: "not-ours"},
			"bad field":       {Where: map[string]any{"a b": 1}},
			"object filter":   {Where: map[string]any{"port": map[string]int{"x": 1}}},
			"bad order field": {OrderBy: "data->>'x'"},
		} {
			if _, err := f.accounts.Query(ctx, c, bad); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
	})
}

func TestLimitsWriteNothing(t *testing.T) {
	forEachBackend(t, store.Options{MaxDocuments: 2, MaxDocumentBytes: 200}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		var limit *store.LimitError
		if _, err := f.accounts.CreateWithID(ctx, c, "big", account{Note: strings.Repeat("x", 300)}); !errors.As(err, &limit) {
			t.Fatalf("oversized document = %v, want a limit", err)
		}
		for _, id := range []string{"a", "b"} {
			if _, err := f.accounts.CreateWithID(ctx, c, id, account{Email: id}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.accounts.CreateWithID(ctx, c, "c", account{Email: "c"}); !errors.As(err, &limit) {
			t.Fatalf("third document = %v, want a limit", err)
		}
		if _, err := f.accounts.Update(ctx, c, "c", account{Email: "c"}, ""); !errors.As(err, &limit) {
			t.Fatalf("update creating a third = %v, want a limit", err)
		}
		// Replacing one that exists is no new document.
		if _, err := f.accounts.Update(ctx, c, "a", account{Email: "a2"}, ""); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.accounts.Count(ctx, c, nil); n != 2 {
			t.Fatalf("%d documents, want 2", n)
		}
		if _, ok, _ := f.accounts.Get(ctx, c, "big"); ok {
			t.Fatal("the oversized document was written")
		}
	})
}

// 50 writers update one document with the etag they read: in each round
// exactly one wins, and no update is lost.
func TestConcurrentIfMatchHasOneWinner(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		d, err := f.accounts.CreateWithID(ctx, c, "counter", account{Unread: 0})
		if err != nil {
			t.Fatal(err)
		}
		const rounds, writers = 5, 50
		for round := range rounds {
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, conflicts := 0, 0
			for w := range writers {
				wg.Go(func() {
					_, err := f.accounts.Update(ctx, c, "counter", account{Unread: d.Data.Unread + 1, Note: fmt.Sprint(w)}, d.Etag)
					var conflict *store.ConflictError
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.As(err, &conflict):
						conflicts++
					default:
						t.Errorf("round %d: %v", round, err)
					}
				})
			}
			wg.Wait()
			if wins != 1 || conflicts != writers-1 {
				t.Fatalf("round %d: %d winners, %d conflicts", round, wins, conflicts)
			}
			if d, _, err = f.accounts.Get(ctx, c, "counter"); err != nil {
				t.Fatal(err)
			}
		}
		if d.Data.Unread != rounds {
			t.Fatalf("counter = %d after %d rounds", d.Data.Unread, rounds)
		}
	})
}

// Postgres's schema is created once and migrated idempotently: a second
// host opening the same database changes nothing.
func TestPostgresSchemaIsMigratedOnce(t *testing.T) {
	url := testpg.Schema(t)
	for range 2 {
		p, err := store.OpenPostgres(context.Background(), store.PostgresOptions{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		v, err := p.SchemaVersion(context.Background())
		p.Close()
		if err != nil || v != 2 {
			t.Fatalf("schema version %d, %v", v, err)
		}
	}
}

var _ = time.Second

// U+0000 is a value PostgreSQL cannot keep: both backends refuse it alike,
// as the caller's data, and a failed write returns no document.
func TestUnstorableValuesAreRefusedAlike(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		d, err := f.accounts.CreateWithID(ctx, c, "nul", account{Email: "a\x00b"})
		if !errors.Is(err, store.ErrUnstorable) || d.ID != "" || d.Etag != "" {
			t.Fatalf("Create with U+0000 = %+v, %v", d, err)
		}
		if _, err := f.accounts.Query(ctx, c, store.Query{Where: map[string]any{"email": "a\x00"}}); !errors.Is(err, store.ErrUnstorable) {
			t.Fatalf("filter with U+0000 = %v", err)
		}
		if n, _ := f.accounts.Count(ctx, c, nil); n != 0 {
			t.Fatalf("%d documents written", n)
		}
	})
}

// A page starts after the last document of the one before: documents
// deleted or created between pages shift nothing, in any order; a cursor
// belongs to its query.
func TestPagesFollowPositionsNotOffsets(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		for i := range 6 {
			if _, err := f.accounts.CreateWithID(ctx, c, fmt.Sprintf("p%d", i+1), account{Email: fmt.Sprintf("e%d", i+1), Unread: 10 - i, Provider: "imap"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []store.Query{{Limit: 2}, {OrderBy: "unread", Limit: 2}, {OrderBy: "email", Desc: true, Limit: 2}, {OrderBy: "created_at", Limit: 2}} {
			first, err := f.accounts.Query(ctx, c, q)
			if err != nil || len(first.Documents) != 2 || !first.HasMore {
				t.Fatalf("%+v: first page %+v, %v", q, first, err)
			}
			// Delete the first page's first document and create one that
			// sorts before the whole page.
			gone := first.Documents[0].ID
			if _, err := f.accounts.Delete(ctx, c, gone); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{first.Documents[0].ID: true, first.Documents[1].ID: true}
			q.Cursor = first.Cursor
			for q.Cursor != "" {
				p, err := f.accounts.Query(ctx, c, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range p.Documents {
					if seen[d.ID] {
						t.Fatalf("%+v: %s twice", q, d.ID)
					}
					seen[d.ID] = true
				}
				q.Cursor = p.Cursor
			}
			if n, _ := f.accounts.Count(ctx, c, nil); len(seen) != n+1 {
				t.Fatalf("%+v: %d seen, %d stored (and %s deleted)", q, len(seen), n, gone)
			}
			if _, err := f.accounts.Update(ctx, c, gone, account{Email: "e-back", Unread: 10, Provider: "imap"}, ""); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := f.accounts.Query(ctx, c, store.Query{Limit: 2})
		if _, err := f.accounts.Query(ctx, c, store.Query{Limit: 2, OrderBy: "email", Cursor: p.Cursor}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("another query's cursor = %v, want ErrInvalid", err)
		}
	})
}

// Numbers filter by their exact value on both backends: 2^53 and 2^53+1
// are two numbers, though float64 cannot tell them apart.
func TestNumbersFilterExactly(t *testing.T) {
	forEachBackend(t, store.Options{}, func(t *testing.T, f *fixture) {
		ctx, c := context.Background(), f.client("mail-client", "ann")
		if _, err := f.accounts.CreateWithID(ctx, c, "big", account{Unread: 1 << 53}); err != nil {
			t.Fatal(err)
		}
		for filter, want := range map[int]int{1 << 53: 1, 1<<53 + 1: 0} {
			if n, err := f.accounts.Count(ctx, c, map[string]any{"unread": filter}); err != nil || n != want {
				t.Errorf("Count(unread = %d) = %d, %v; want %d", filter, n, err, want)
			}
		}
	})
}
