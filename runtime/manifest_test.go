package runtime_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	validator "github.com/santhosh-tekuri/jsonschema/v6"

	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// TestManifestsValidate checks every manifest the host writes against the
// SDK's manifest rules (testdata/imperal-manifest.schema.json).
func TestManifestsValidate(t *testing.T) {
	raw, err := os.ReadFile("testdata/imperal-manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := validator.NewCompiler()
	if err := c.AddResource("imperal.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("imperal.json")
	if err != nil {
		t.Fatal(err)
	}
	check := func(manifest any) error {
		out, _ := json.Marshal(manifest)
		inst, _ := validator.UnmarshalJSON(bytes.NewReader(out))
		return schema.Validate(inst)
	}

	h := newHarness(t, 5*time.Second)
	testApp, _ := h.d.Extension("test-app")
	exts := append(registry.List(), testApp)
	if len(exts) < 2 {
		t.Fatal("mail-client is not registered")
	}
	for _, ext := range exts {
		if err := check(runtime.NewManifest(ext)); err != nil {
			t.Errorf("%s manifest: %v", ext.AppID(), err)
		}
	}

	// The rules have teeth: an unknown key is refused.
	bad := map[string]any{"app_id": "x-app", "version": "1.0.0", "tools": []any{map[string]any{"name": "f", "surprise": 1}}}
	if check(bad) == nil {
		t.Fatal("a tool with an unknown key validated")
	}
}
