package catalog_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/imperalcloud/exthost/ctx"
	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

type echoParams struct {
	Name  string `json:"name" jsonschema:"required" jsonschema_description:"Who to greet."`
	Count int    `json:"count"`
}

type echoData struct {
	Greeting string `json:"greeting"`
}

// testApp is an extension with a read and a write, declared in an order
// that is not alphabetical.
func testApp() *runtime.Extension {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "test-app", Version: "0.1.0", DisplayName: "Test App",
		Description: "An extension for the catalog tests.", ActionsExplicit: true})
	tool := ext.ChatTool("tool_test_chat", "Test functions.")
	runtime.AddFunction(tool, runtime.Function[echoParams, echoData]{
		Name: "echo", Description: "Greets by name.",
		Handler: func(*ctx.Call, echoParams) (runtime.Result, error) { return runtime.Success(echoData{}, ""), nil },
	})
	runtime.AddFunction(tool, runtime.Function[echoParams, runtime.NoData]{
		Name: "archive", Description: "Archives by name.", ActionType: runtime.Write,
		Effects: []string{"__panel__sidebar", "update:note"}, Event: "archived", IDProjection: "name",
		Handler: func(*ctx.Call, echoParams) (runtime.Result, error) { return runtime.Success(nil, ""), nil },
	})
	return ext
}

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

	exts := append(registry.List(), testApp())
	if len(exts) < 2 {
		t.Fatal("mail-client is not registered")
	}
	for _, ext := range exts {
		if err := check(catalog.NewManifest(ext)); err != nil {
			t.Errorf("%s manifest: %v", ext.AppID(), err)
		}
	}

	// The rules have teeth: an unknown key is refused.
	bad := map[string]any{"app_id": "x-app", "version": "1.0.0", "tools": []any{map[string]any{"name": "f", "surprise": 1}}}
	if check(bad) == nil {
		t.Fatal("a tool with an unknown key validated")
	}
}

func TestManifestAndCatalog(t *testing.T) {
	ext := testApp()
	m := catalog.NewManifest(ext)
	raw, _ := json.Marshal(m)
	top := orderedKeys(t, raw)
	wantTop := "manifest_schema_version,sdk_version,app_id,version,name,description,icon,actions_explicit,system," +
		"capabilities,tools,signals,schedules,required_scopes,panels"
	if strings.Join(top, ",") != wantTop {
		t.Errorf("manifest keys = %s\nwant %s", strings.Join(top, ","), wantTop)
	}
	tool, _ := json.Marshal(m.Tools[0])
	// sdk-contract.md §12 case 38: exactly these keys, in this order.
	wantTool := "name,description,action_type,chain_callable,effects,id_projection,params_schema,return_schema," +
		"event,background,long_running,scopes,owner_chat_tool"
	if got := strings.Join(orderedKeys(t, tool), ","); got != wantTool {
		t.Errorf("tool keys = %s\nwant %s", got, wantTool)
	}
	if m.ManifestSchemaVersion != 3 || m.Tools[0].Name != "echo" || !m.Tools[0].ChainCallable ||
		m.Tools[0].OwnerChatTool != "tool_test_chat" || m.Tools[0].Effects == nil || m.Tools[0].Scopes == nil {
		t.Errorf("manifest tool = %+v", m.Tools[0])
	}
	for _, tl := range m.Tools {
		if strings.HasPrefix(tl.Name, "__") || strings.HasPrefix(tl.Name, "tool_") {
			t.Errorf("manifest lists %s, which the platform rejects", tl.Name)
		}
	}

	tools := catalog.NewCatalog([]*runtime.Extension{ext})
	if len(tools.Tools) != len(m.Tools) {
		t.Fatalf("catalog has %d tools, manifest %d: they must list the same functions", len(tools.Tools), len(m.Tools))
	}
	// Declaration order, in both.
	for i, want := range []string{"echo", "archive"} {
		if m.Tools[i].Name != want || tools.Tools[i].Function != want {
			t.Errorf("tool %d = %s / %s, want %s", i, m.Tools[i].Name, tools.Tools[i].Function, want)
		}
	}
	if a := m.Tools[1]; a.Event != "archived" || a.IDProjection != "name" || strings.Join(a.Effects, ",") != "__panel__sidebar,update:note" ||
		string(a.ReturnSchema) != `{}` || !strings.Contains(string(m.Tools[0].ReturnSchema), `"greeting"`) {
		t.Errorf("archive tool = %+v", a)
	}
	first := tools.Tools[0]
	if first.Name != "test-app__echo" || first.AppID != "test-app" || first.Function != "echo" ||
		string(first.InputSchema) != string(m.Tools[0].ParamsSchema) {
		t.Errorf("catalog tool = %+v", first)
	}
	openai, _ := json.Marshal(tools.OpenAITools()[0])
	if !strings.HasPrefix(string(openai), `{"type":"function","function":{"name":"test-app__echo","description":"Greets by name.","parameters":{`) {
		t.Errorf("openai tool = %s", openai)
	}

	summary := catalog.Summarize(ext)
	if summary.AppID != "test-app" || summary.Name != "Test App" || summary.Functions[0] != "echo" {
		t.Errorf("summary = %+v", summary)
	}
}

// orderedKeys returns the top-level keys of a JSON object in document order.
func orderedKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
