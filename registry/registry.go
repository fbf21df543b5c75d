// Package registry collects the compiled-in extensions. Each extension
// package registers itself from init(), and the host binary wires an
// extension in with a blank import, as database/sql drivers and Caddy
// modules do:
//
//	import _ "github.com/imperalcloud/exthost/extensions/mailclient"
//
// The package-level registry is the only global in the host. Tests build
// their own with New, so they never depend on what else is linked in.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/imperalcloud/exthost/runtime"
)

// Registry is a set of extensions keyed by app id. It is safe for
// concurrent use.
type Registry struct {
	mu   sync.RWMutex
	exts map[string]*runtime.Extension
}

// New returns a registry of exts, isolated from the global one.
func New(exts ...*runtime.Extension) *Registry {
	r := &Registry{exts: make(map[string]*runtime.Extension)}
	for _, ext := range exts {
		r.Register(ext)
	}
	return r
}

// Register adds ext. It panics on a nil extension or an app id already
// registered: registration runs at start-up, where a conflict must stop the
// process before it serves anything.
func (r *Registry) Register(ext *runtime.Extension) {
	if ext == nil {
		panic("registry: Register of a nil extension")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := ext.AppID()
	if _, dup := r.exts[id]; dup {
		panic(fmt.Sprintf("registry: extension %q registered twice", id))
	}
	r.exts[id] = ext
}

// Lookup returns the extension registered as appID.
func (r *Registry) Lookup(appID string) (*runtime.Extension, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ext, ok := r.exts[appID]
	return ext, ok
}

// List returns every registered extension, sorted by app id.
func (r *Registry) List() []*runtime.Extension {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := make([]*runtime.Extension, 0, len(r.exts))
	for _, ext := range r.exts {
		list = append(list, ext)
	}
	slices.SortFunc(list, func(a, b *runtime.Extension) int { return strings.Compare(a.AppID(), b.AppID()) })
	return list
}

// global holds the extensions linked into the binary.
var global = New()

// Register adds ext to the global registry; call it from the extension's init().
func Register(ext *runtime.Extension) { global.Register(ext) }

// Lookup returns the globally registered extension appID.
func Lookup(appID string) (*runtime.Extension, bool) { return global.Lookup(appID) }

// List returns every globally registered extension, sorted by app id.
func List() []*runtime.Extension { return global.List() }
