package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
)

// The conformance cases of the SDK's tests/test_cache_client.py and
// tests/test_cache_model.py (sdk-contract.md §5.5, §12 cases 1-24), run
// against both backends. Where Go's types make a case impossible (a dict
// value, a non-model class, a fetcher of another type) the case is a
// compile-time guarantee and is listed in TestCompileTimeGuarantees.

func TestKeySafety(t *testing.T) {
	cases := []struct {
		name, key string
		want      string // substring of the error; "" means valid
	}{
		{"too long (129)", strings.Repeat("k", 129), "too long"},
		{"boundary (128)", strings.Repeat("x", 128), ""},
		{"slash", "foo/bar", "forbidden characters"},
		{"wildcard", "foo*", "forbidden"},
		{"empty", "", "non-empty"},
		{"hash tag brace", "a{b}", "forbidden"},
		{"space", "a b", "forbidden"},
		{"newline", "a\nb", "forbidden"},
		{"non-ASCII", "inbox:é", "forbidden"},
		{"namespaced", "inbox:a1:INBOX:0", ""},
		{"all allowed", "Az09_-:", ""},
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := len(f.spy.Ops())
				errs := map[string]error{}
				_, _, errs["Get"] = f.summary.Get(ctx, f.client, tc.key)
				errs["Set"] = f.summary.Set(ctx, f.client, tc.key, inboxSummary{}, time.Minute)
				_, errs["GetOrFetch"] = f.summary.GetOrFetch(ctx, f.client, tc.key, time.Minute,
					func(context.Context) (inboxSummary, error) { return inboxSummary{}, nil })
				errs["Delete"] = f.client.Delete(ctx, tc.key)
				for op, err := range errs {
					if tc.want == "" {
						if err != nil {
							t.Errorf("%s(%q) = %v, want no error", op, tc.key, err)
						}
						continue
					}
					if !errors.Is(err, cache.ErrContractViolation) || !strings.Contains(err.Error(), tc.want) ||
						!strings.Contains(err.Error(), cache.InvariantKeySafety) {
						t.Errorf("%s(%q) = %v, want a %s violation containing %q", op, tc.key, err, cache.InvariantKeySafety, tc.want)
					}
					if len(tc.key) > 3 && strings.Contains(err.Error(), tc.key) {
						t.Errorf("%s: the error %q echoes the key", op, err)
					}
				}
				if tc.want != "" && len(f.spy.Ops()) != before {
					t.Errorf("a rejected key reached the backend: %v", f.spy.Ops()[before:])
				}
			})
		}
	})
}

func TestTTLCap(t *testing.T) {
	cases := []struct {
		ttl  time.Duration
		want string
	}{
		{4 * time.Second, "[5, 300]"},
		{301 * time.Second, "[5, 300]"},
		{0, "[5, 300]"},
		{-time.Minute, "[5, 300]"},
		{5 * time.Second, ""},
		{300 * time.Second, ""},
		{1500 * time.Millisecond, "whole number of seconds"}, // the SDK's "ttl_seconds must be int"
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range cases {
			t.Run(tc.ttl.String(), func(t *testing.T) {
				before := len(f.spy.Ops())
				err := f.summary.Set(context.Background(), f.client, "k", inboxSummary{Unread: 1}, tc.ttl)
				_, ferr := f.summary.GetOrFetch(context.Background(), f.client, "ttl-"+tc.ttl.String()[:1], tc.ttl,
					func(context.Context) (inboxSummary, error) { return inboxSummary{}, nil })
				for _, err := range []error{err, ferr} {
					if tc.want == "" {
						if err != nil {
							t.Errorf("ttl %s: %v, want accepted", tc.ttl, err)
						}
						continue
					}
					if !errors.Is(err, cache.ErrContractViolation) || !strings.Contains(err.Error(), tc.want) ||
						!strings.Contains(err.Error(), cache.InvariantTTL) {
						t.Errorf("ttl %s: %v, want a %s violation containing %q", tc.ttl, err, cache.InvariantTTL, tc.want)
					}
				}
				if tc.want != "" && len(f.spy.Ops()) != before {
					t.Errorf("a rejected TTL reached the backend: %v", f.spy.Ops()[before:])
				}
			})
		}
	})
}

func TestUnregisteredModelFailsBeforeIO(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		// A model of another extension, and a handle that was never registered.
		other := cache.Register[inboxSummary](cache.NewModels("other"), "inbox_summary")
		var zero cache.Model[inboxSummary]
		for name, m := range map[string]*cache.Model[inboxSummary]{"other extension": other, "zero handle": &zero, "nil handle": nil} {
			t.Run(name, func(t *testing.T) {
				errs := []error{f.summary.Set(ctx, f.client, "k", inboxSummary{}, time.Minute)} // the registered one works
				if errs[0] != nil {
					t.Fatalf("registered model: %v", errs[0])
				}
				before := len(f.spy.Ops())
				_, _, err1 := m.Get(ctx, f.client, "k")
				err2 := m.Set(ctx, f.client, "k", inboxSummary{}, time.Minute)
				_, err3 := m.GetOrFetch(ctx, f.client, "k", time.Minute, func(context.Context) (inboxSummary, error) {
					t.Error("fetcher of an unregistered model ran")
					return inboxSummary{}, nil
				})
				for _, err := range []error{err1, err2, err3} {
					if !errors.Is(err, cache.ErrContractViolation) || !strings.Contains(err.Error(), "not registered") ||
						!strings.Contains(err.Error(), cache.InvariantRegistration) {
						t.Errorf("got %v, want a %s violation saying \"not registered\"", err, cache.InvariantRegistration)
					}
				}
				if ops := f.spy.Ops()[before:]; len(ops) != 0 {
					t.Errorf("an unregistered model reached the backend: %v", ops)
				}
			})
		}
	})
}

func TestValueSizeCap(t *testing.T) {
	// The envelope around {"unread":0,"latest_subject":"<s>"} with the fixed
	// clock is this many bytes plus len(s).
	overhead := len(`{"model":"inbox_summary","version":1,"data":{"unread":0,"latest_subject":""},"cached_at":"2026-11-26T17:22:13.643308Z"}`)
	cases := []struct {
		name    string
		subject string
		ok      bool
	}{
		{"70 KiB string", strings.Repeat("x", 70<<10), false},
		{"exactly 64 KiB", strings.Repeat("x", cache.MaxEnvelopeBytes-overhead), true},
		{"one byte over", strings.Repeat("x", cache.MaxEnvelopeBytes-overhead+1), false},
		// Stored UTF-8 counts é as two bytes: half as many fit.
		{"UTF-8 counted in bytes", strings.Repeat("é", (cache.MaxEnvelopeBytes-overhead)/2+1), false},
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := len(f.spy.Ops())
				err := f.summary.Set(context.Background(), f.client, "big", inboxSummary{LatestSubject: tc.subject}, time.Minute)
				if tc.ok {
					if err != nil {
						t.Fatalf("Set = %v, want stored", err)
					}
					got, ok, _ := f.summary.Get(context.Background(), f.client, "big")
					if !ok || got.LatestSubject != tc.subject {
						t.Fatalf("stored value did not read back")
					}
					return
				}
				if !errors.Is(err, cache.ErrContractViolation) || !strings.Contains(err.Error(), "too large") ||
					!strings.Contains(err.Error(), cache.InvariantValueSize) {
					t.Fatalf("Set = %v, want a %s violation saying \"too large\"", err, cache.InvariantValueSize)
				}
				if ops := f.spy.Ops()[before:]; len(ops) != 0 {
					t.Errorf("an oversized value reached the backend: %v", ops)
				}
			})
		}
	})
}

func TestStorageKeyAndEnvelope(t *testing.T) {
	// SDK case 10: app mail, user u-123, model inbox_summary, key k → …/inbox_summary/8254c329a92850f6.
	if got, want := cache.StorageKey("mail", "u-123", "inbox_summary", "k"), "extcache:{mail:u-123}:inbox_summary:8254c329a92850f6"; got != want {
		t.Errorf("StorageKey = %s, want %s", got, want)
	}
	if got, want := cache.StorageKey("mail", "u-1", "m", "inbox:today"), "extcache:{mail:u-1}:m:3810bb9650b3606f"; got != want {
		t.Errorf("StorageKey = %s, want %s", got, want)
	}

	mem, _ := cache.NewMemory(cache.MemoryOptions{})
	store := cache.NewStore(mem, cache.Options{Now: func() time.Time { return fixedNow }})
	defer store.Close()
	models := cache.NewModels("mail")
	summary := cache.Register[inboxSummary](models, "inbox_summary")
	client, _ := store.Client("mail", "u-123", models)
	if err := summary.Set(context.Background(), client, "k", inboxSummary{Unread: 3, LatestSubject: "<Ünïcode & more>"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	raw, ok, _ := mem.Get(context.Background(), "extcache:{mail:u-123}:inbox_summary:8254c329a92850f6")
	// SDK case 12: compact, keys in order; stored as UTF-8 without HTML escaping.
	want := `{"model":"inbox_summary","version":1,"data":{"unread":3,"latest_subject":"<Ünïcode & more>"},"cached_at":"2026-11-26T17:22:13.643308Z"}`
	if !ok || string(raw) != want {
		t.Errorf("stored envelope\n got %s\nwant %s", raw, want)
	}
}

func TestEscapeIDKeepsUsersInsideTheirHashTag(t *testing.T) {
	cases := map[string]string{
		"imp_u_123":         "imp_u_123",
		"alice@example.com": "alice@example.com",
		"a:b":               "a:b",
		"x}:evil{":          "x%7D:evil%7B",
		"*":                 "%2A",
		"../u":              "../u",
		"u\r\nDEL":          "u%0D%0ADEL",
		"100%":              "100%25",
		"ü":                 "%C3%BC",
	}
	for id, want := range cases {
		if got := cache.EscapeID(id); got != want {
			t.Errorf("EscapeID(%q) = %q, want %q", id, got, want)
		}
		key := cache.StorageKey("app", id, "m", "k")
		if strings.Count(key, "{") != 1 || strings.Count(key, "}") != 1 {
			t.Errorf("user %q breaks the hash tag: %s", id, key)
		}
	}
}

func TestGetReadsOnlyMatchingEnvelopes(t *testing.T) {
	cases := []struct {
		name   string
		stored string
		hit    bool
	}{
		{"valid", `{"model":"inbox_summary","version":1,"data":{"unread":7,"latest_subject":"hello"},"cached_at":"2026-01-01T00:00:00Z"}`, true},
		{"other model", `{"model":"wrong_name","version":1,"data":{"unread":7},"cached_at":"x"}`, false},
		{"version 2", `{"model":"inbox_summary","version":2,"data":{"unread":7},"cached_at":"x"}`, false},
		{"null data", `{"model":"inbox_summary","version":1,"data":null,"cached_at":"x"}`, false},
		{"no data", `{"model":"inbox_summary","version":1}`, false},
		{"changed shape", `{"model":"inbox_summary","version":1,"data":{"unread":"seven"},"cached_at":"x"}`, false},
		{"not JSON", `not json`, false},
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		t.Run("absent", func(t *testing.T) {
			if _, ok, err := f.summary.Get(ctx, f.client, "absent"); ok || err != nil {
				t.Fatalf("Get(absent) = %v, %v; want a miss", ok, err)
			}
		})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				key := strings.ReplaceAll(tc.name, " ", "-")
				if err := f.raw.Set(ctx, cache.StorageKey("mail", f.user, "inbox_summary", key), []byte(tc.stored), time.Minute); err != nil {
					t.Fatal(err)
				}
				got, ok, err := f.summary.Get(ctx, f.client, key)
				if err != nil || ok != tc.hit {
					t.Fatalf("Get = %+v, %v, %v; want hit=%v", got, ok, err, tc.hit)
				}
				if tc.hit && (got != inboxSummary{Unread: 7, LatestSubject: "hello"}) {
					t.Fatalf("Get = %+v, want unread 7, subject hello", got)
				}
			})
		}
	})
}

func TestDeleteRemovesEveryModelInOneRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		pages := cache.Register[struct{ N int }](f.models, "inbox_page")
		counts := cache.Register[struct{ M int }](f.models, "unread_count")
		if err := f.summary.Set(ctx, f.client, "k", inboxSummary{Unread: 1}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := pages.Set(ctx, f.client, "k", struct{ N int }{2}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := counts.Set(ctx, f.client, "other", struct{ M int }{3}, time.Minute); err != nil {
			t.Fatal(err)
		}
		before := len(f.spy.Ops())
		if err := f.client.Delete(ctx, "k", "other", "missing"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		ops := f.spy.Ops()[before:]
		if len(ops) != 1 || strings.Count(ops[0], "extcache:") != 9 || strings.Contains(ops[0], "*") {
			t.Fatalf("Delete ops = %v, want one DEL of 3 keys × 3 models, no wildcard", ops)
		}
		// Registration order, each model segment present.
		for _, model := range []string{"inbox_summary", "inbox_page", "unread_count"} {
			if !strings.Contains(ops[0], "}:"+model+":") {
				t.Errorf("Delete did not cover model %s: %s", model, ops[0])
			}
		}
		if _, ok, _ := f.summary.Get(ctx, f.client, "k"); ok {
			t.Error("inbox_summary entry survived Delete")
		}
		if _, ok, _ := pages.Get(ctx, f.client, "k"); ok {
			t.Error("inbox_page entry survived Delete")
		}
		if _, ok, _ := counts.Get(ctx, f.client, "other"); ok {
			t.Error("unread_count entry survived Delete")
		}
	})
}

func TestDeleteWithNoModelsIsNoop(t *testing.T) {
	f := newFixture(t, "memory")
	client, err := f.store.Client("bare", "u-123", cache.NewModels("bare"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if ops := f.spy.Ops(); len(ops) != 0 {
		t.Fatalf("Delete with no models reached the backend: %v", ops)
	}
}

func TestGetOrFetch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		t.Run("hit does not call the fetcher", func(t *testing.T) {
			if err := f.summary.Set(ctx, f.client, "hit", inboxSummary{Unread: 7, LatestSubject: "cached"}, time.Minute); err != nil {
				t.Fatal(err)
			}
			got, err := f.summary.GetOrFetch(ctx, f.client, "hit", time.Minute, func(context.Context) (inboxSummary, error) {
				t.Error("fetcher called on a hit")
				return inboxSummary{}, nil
			})
			if err != nil || got.LatestSubject != "cached" {
				t.Fatalf("GetOrFetch = %+v, %v; want the cached value", got, err)
			}
		})
		t.Run("miss fetches, then reads and writes exactly once", func(t *testing.T) {
			before := len(f.spy.Ops())
			got, err := f.summary.GetOrFetch(ctx, f.client, "miss", time.Minute, func(context.Context) (inboxSummary, error) {
				return inboxSummary{Unread: 9, LatestSubject: "fresh"}, nil
			})
			if err != nil || got.Unread != 9 {
				t.Fatalf("GetOrFetch = %+v, %v; want the fetched value", got, err)
			}
			var kinds []string
			for _, op := range f.spy.Ops()[before:] {
				kinds = append(kinds, op[:3])
			}
			if strings.Join(kinds, ",") != "GET,SET" {
				t.Fatalf("backend ops = %v, want exactly GET then SET", kinds)
			}
			cached, ok, _ := f.summary.Get(ctx, f.client, "miss")
			if !ok || cached != got {
				t.Fatalf("fetched value was not cached: %+v, %v", cached, ok)
			}
		})
		t.Run("fetcher error is returned and not cached", func(t *testing.T) {
			boom := errors.New("upstream down")
			calls := 0
			fetch := func(context.Context) (inboxSummary, error) { calls++; return inboxSummary{}, boom }
			for range 2 {
				if _, err := f.summary.GetOrFetch(ctx, f.client, "failing", time.Minute, fetch); !errors.Is(err, boom) {
					t.Fatalf("GetOrFetch error = %v, want %v", err, boom)
				}
			}
			if calls != 2 {
				t.Fatalf("fetcher ran %d times, want 2: a failure must not be cached", calls)
			}
			if _, ok, _ := f.summary.Get(ctx, f.client, "failing"); ok {
				t.Fatal("a failed fetch left an entry")
			}
		})
		t.Run("oversized fresh value is served uncached", func(t *testing.T) {
			big := inboxSummary{LatestSubject: strings.Repeat("x", 70<<10)}
			got, err := f.summary.GetOrFetch(ctx, f.client, "oversized", time.Minute, func(context.Context) (inboxSummary, error) {
				return big, nil
			})
			if err != nil || got != big {
				t.Fatalf("GetOrFetch = %v; want the fresh value despite the size cap", err)
			}
			if _, ok, _ := f.summary.Get(ctx, f.client, "oversized"); ok {
				t.Fatal("an oversized value was cached")
			}
		})
	})
}

func TestPerUserIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		alice := f.client
		bob := f.newClient(t, f.user+"-bob")
		if err := f.summary.Set(ctx, alice, "inbox:shared-key", inboxSummary{Unread: 42, LatestSubject: "alice's"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := f.summary.Get(ctx, bob, "inbox:shared-key"); ok {
			t.Fatalf("bob read alice's entry: %+v", got)
		}
		fetched, err := f.summary.GetOrFetch(ctx, bob, "inbox:shared-key", time.Minute, func(context.Context) (inboxSummary, error) {
			return inboxSummary{Unread: 1, LatestSubject: "bob's"}, nil
		})
		if err != nil || fetched.LatestSubject != "bob's" {
			t.Fatalf("bob's GetOrFetch = %+v, %v", fetched, err)
		}
		if got, _, _ := f.summary.Get(ctx, alice, "inbox:shared-key"); got.LatestSubject != "alice's" {
			t.Fatalf("bob's write reached alice: %+v", got)
		}
		if err := bob.Delete(ctx, "inbox:shared-key"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := f.summary.Get(ctx, alice, "inbox:shared-key"); !ok {
			t.Fatal("bob's delete removed alice's entry")
		}
		// The same user under another app is another namespace too.
		otherApp, _ := f.store.Client("mail-2", f.user, f.models)
		if _, ok, _ := f.summary.Get(ctx, otherApp, "inbox:shared-key"); ok {
			t.Fatal("another app read the entry")
		}
	})
}

func TestRegistrationPanics(t *testing.T) {
	cases := []struct {
		name     string
		register func(ms *cache.Models)
		want     string
	}{
		{"duplicate", func(ms *cache.Models) {
			cache.Register[inboxSummary](ms, "x")
			cache.Register[inboxSummary](ms, "x")
		}, `cache model "x" already registered`},
		{"not a struct", func(ms *cache.Models) { cache.Register[map[string]int](ms, "m") }, "must be a struct type"},
		{"func type", func(ms *cache.Models) { cache.Register[func()](ms, "f") }, "must be a struct type"},
		{"empty name", func(ms *cache.Models) { cache.Register[inboxSummary](ms, "") }, `model name ""`},
		{"uppercase", func(ms *cache.Models) { cache.Register[inboxSummary](ms, "Inbox") }, `model name "Inbox"`},
		{"slash", func(ms *cache.Models) { cache.Register[inboxSummary](ms, "a/b") }, `model name "a/b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "mail") {
					t.Fatalf("panic %q, want one naming the extension and containing %q", msg, tc.want)
				}
			}()
			tc.register(cache.NewModels("mail"))
		})
	}
}

func TestModelsArePerExtension(t *testing.T) {
	a, b := cache.NewModels("a"), cache.NewModels("b")
	ma := cache.Register[inboxSummary](a, "x")
	mb := cache.Register[struct{ Other string }](b, "x") // same name, other type, other extension
	if ma.Name() != "x" || mb.Name() != "x" {
		t.Fatal("names not kept")
	}
	if got := a.Names(); len(got) != 1 || got[0] != "x" {
		t.Fatalf("a.Names() = %v", got)
	}
	f := newFixture(t, "memory")
	ca, _ := f.store.Client("a", "u", a)
	if err := mb.Set(context.Background(), ca, "k", struct{ Other string }{"v"}, time.Minute); !errors.Is(err, cache.ErrContractViolation) {
		t.Fatalf("b's model written through a's client: %v", err)
	}
	if err := ma.Set(context.Background(), ca, "k", inboxSummary{}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// The SDK cases that Go's type system turns into compile errors, so no
// runtime check is needed (these lines stop compiling if that changes):
//   - set(k, {"unread": 1})                → Model[T].Set takes a T, not a map;
//   - get(k, NotAModel)                    → reading needs a *Model[T] from Register;
//   - get_or_fetch fetcher of another type → the fetcher must return T.
//
// What remains checkable is that T is a struct, which Register enforces
// (TestRegistrationPanics).
var (
	_ func(*cache.Model[inboxSummary], context.Context, *cache.Client, string, inboxSummary, time.Duration) error = (*cache.Model[inboxSummary]).Set
	_ func(*cache.Model[inboxSummary], context.Context, *cache.Client, string, time.Duration,
		func(context.Context) (inboxSummary, error)) (inboxSummary, error) = (*cache.Model[inboxSummary]).GetOrFetch
)

func TestClientRequiresIdentity(t *testing.T) {
	f := newFixture(t, "memory")
	for _, tc := range []struct{ app, user string }{{"", "u"}, {"mail", ""}} {
		if _, err := f.store.Client(tc.app, tc.user, f.models); err == nil {
			t.Errorf("Client(%q, %q) succeeded", tc.app, tc.user)
		}
	}
	if _, err := f.store.Client("mail", "u", nil); err == nil {
		t.Error("Client without models succeeded")
	}
}
