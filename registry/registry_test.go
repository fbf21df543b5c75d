package registry_test

import (
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

func TestIsolatedRegistry(t *testing.T) {
	b := runtime.NewExtension(runtime.ExtensionInfo{AppID: "b-app"})
	a := runtime.NewExtension(runtime.ExtensionInfo{AppID: "a-app"})
	r := registry.New(b, a)
	if got, ok := r.Lookup("a-app"); !ok || got != a {
		t.Fatal("Lookup(a-app) did not return the registered extension")
	}
	if _, ok := r.Lookup("missing"); ok {
		t.Fatal("Lookup of an unregistered app succeeded")
	}
	list := r.List()
	if len(list) != 2 || list[0] != a || list[1] != b {
		t.Fatalf("List() = %v, want sorted by app id", list)
	}
	if _, ok := registry.Lookup("a-app"); ok {
		t.Fatal("an isolated registry leaked into the global one")
	}
}

func TestRegisterPanicsOnConflicts(t *testing.T) {
	cases := map[string]struct {
		register func(r *registry.Registry)
		want     string
	}{
		"duplicate app id": {func(r *registry.Registry) {
			r.Register(runtime.NewExtension(runtime.ExtensionInfo{AppID: "mail-client"}))
			r.Register(runtime.NewExtension(runtime.ExtensionInfo{AppID: "mail-client"}))
		}, `extension "mail-client" registered twice`},
		"nil extension": {func(r *registry.Registry) { r.Register(nil) }, "nil extension"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if msg, _ := recover().(string); !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want one containing %q", msg, tc.want)
				}
			}()
			tc.register(registry.New())
		})
	}
}
