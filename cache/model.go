package cache

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

var modelNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Models is the ordered set of cache models one extension registers. It is
// filled at start-up, from package-level declarations, and only read after.
type Models struct {
	owner  string
	names  []string
	sealed atomic.Bool
}

// NewModels returns an empty model set for the extension owner (its app id,
// used in messages).
func NewModels(owner string) *Models { return &Models{owner: owner} }

// Seal closes the set: from now on Register panics. The runtime seals an
// extension's models when it starts serving the extension.
func (ms *Models) Seal() { ms.sealed.Store(true) }

// Names returns the registered model names in registration order.
func (ms *Models) Names() []string { return slices.Clone(ms.names) }

// Model is a typed handle on one registered cache model. It is the only way
// to read or write the cache, so a value of an unregistered type cannot be
// stored: the handle exists only once Register has accepted the type and name.
//
// Values read through a Model may be shared with other calls (the memory
// backend hands out the value it stored, and concurrent misses share one
// fetch): treat the slices and maps inside them as read-only.
type Model[T any] struct {
	name string
	set  *Models
}

// Register adds a model called name, holding values of the struct type T, to
// ms and returns its handle. It panics, naming the model, when name is not
// snake_case (^[a-z][a-z0-9_]{0,63}$), is already registered in ms, or T is
// not a struct: like the SDK's @ext.cache_model, registration runs at
// start-up, so a bad declaration stops the process before the first call.
func Register[T any](ms *Models, name string) *Model[T] {
	if ms.sealed.Load() {
		panic(fmt.Sprintf("cache: %s: cannot register cache model %q: the extension is already being served", ms.owner, name))
	}
	if !modelNamePattern.MatchString(name) {
		panic(fmt.Sprintf("cache: %s: model name %q must match %s", ms.owner, name, modelNamePattern))
	}
	if slices.Contains(ms.names, name) {
		panic(fmt.Sprintf("cache: %s: cache model %q already registered", ms.owner, name))
	}
	if t := reflect.TypeFor[T](); t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("cache: %s: cache model %q must be a struct type, not %s", ms.owner, name, t))
	} else if err := jsonx.Encodable(t); err != nil {
		panic(fmt.Sprintf("cache: %s: cache model %q: %v", ms.owner, name, err))
	}
	ms.names = append(ms.names, name)
	return &Model[T]{name: name, set: ms}
}

// Name returns the model's registered name.
func (m *Model[T]) Name() string { return m.name }

// Get returns the value stored under key for c's user, and whether there
// was one. A backend failure reads as a miss (the cache fails open); the
// only errors are broken invariants, reported before any I/O.
func (m *Model[T]) Get(ctx context.Context, c *Client, key string) (T, bool, error) {
	if err := m.check(c, key); err != nil {
		var zero T
		return zero, false, err
	}
	v, ok, _, size := read[T](ctx, c, m.name, key)
	c.lookup(m.name, key, ok, size)
	return v, ok, nil
}

// Set stores v under key for c's user for ttl, a whole number of
// seconds in [5s, 300s]. It returns a *ContractError, before any I/O, for a
// bad key or TTL or an envelope over 64 KiB, and the backend's error if the
// write failed.
func (m *Model[T]) Set(ctx context.Context, c *Client, key string, v T, ttl time.Duration) error {
	if err := m.check(c, key); err != nil {
		return err
	}
	if err := ValidateTTL(ttl); err != nil {
		return err
	}
	return set(ctx, c, m.name, key, v, ttl)
}

// GetOrFetch returns the cached value for key, or calls fetch on a miss,
// stores its result for ttl and returns it.
//
// Concurrent misses of the same entry in this process share one fetch. The
// fetch runs on a context detached from every single caller, bounded by the
// store's fetch timeout, and cancelled only when all waiting callers have
// gone; a caller whose own context ends gets its context's error while the
// others keep waiting. A fetch error is returned and nothing is cached; a
// panicking fetch fails its callers with an error (the host answers it
// INTERNAL, the stack in the log). A failed write
// (backend down, value over 64 KiB) is logged and the fresh value still
// returned.
func (m *Model[T]) GetOrFetch(ctx context.Context, c *Client, key string, ttl time.Duration, fetch func(context.Context) (T, error)) (T, error) {
	if err := m.check(c, key); err != nil {
		var zero T
		return zero, err
	}
	if err := ValidateTTL(ttl); err != nil {
		var zero T
		return zero, err
	}
	return getOrFetch(ctx, c, m.name, key, ttl, fetch)
}

func (m *Model[T]) check(c *Client, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if m == nil || m.set == nil || c == nil || c.models != m.set {
		name, app := "", ""
		if m != nil {
			name = m.name
		}
		if c != nil {
			app = c.app
		}
		return violation(InvariantRegistration,
			"cache model %q is not registered for extension %q; register it with the extension before use", name, app)
	}
	return nil
}
