package runtime_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/runtime"
)

func okHandler[P any](*ctx.Call, P) (runtime.Result, error) { return runtime.Success(nil, ""), nil }

func TestDeclarationsPanicAtStartUp(t *testing.T) {
	newTool := func() *runtime.ChatTool {
		return runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"}).ChatTool("tool_demo_chat", "")
	}
	cases := []struct {
		name    string
		declare func()
		want    string
	}{
		{"malformed app id", func() { runtime.NewExtension(runtime.ExtensionInfo{AppID: "Demo_App"}) }, `app id "Demo_App"`},
		{"app id ending in a dash", func() { runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-"}) }, `app id "demo-"`},
		{"empty app id", func() { runtime.NewExtension(runtime.ExtensionInfo{}) }, `app id ""`},
		{"malformed function name", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: "list-inbox", Handler: okHandler[none]})
		}, `function "list-inbox": name must match`},
		{"reserved function name", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: "__panel__x", Handler: okHandler[none]})
		}, "reserved"},
		{"duplicate function", func() {
			tool := newTool()
			runtime.AddFunction(tool, runtime.Function[none]{Name: "f", Handler: okHandler[none]})
			runtime.AddFunction(tool, runtime.Function[none]{Name: "f", Handler: okHandler[none]})
		}, `function "f": already declared`},
		{"no handler", func() { runtime.AddFunction(newTool(), runtime.Function[none]{Name: "f"}) }, "no handler"},
		{"unknown action type", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: "f", ActionType: "delete", Handler: okHandler[none]})
		}, `action type "delete"`},
		{"malformed event", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: "f", Event: "archived", Handler: okHandler[none]})
		}, `event "archived"`},
		{"params not a struct", func() {
			runtime.AddFunction(newTool(), runtime.Function[map[string]any]{Name: "f", Handler: okHandler[map[string]any]})
		}, "parameters must be a struct"},
		{"non-scalar default", func() {
			runtime.AddFunction(newTool(), runtime.Function[echoParams]{Name: "f", Defaults: echoParams{Tags: []string{"x"}}, Handler: okHandler[echoParams]})
		}, "defaults may only set scalar fields"},
		{"return type not an object", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: "f", Returns: reflect.TypeFor[[]string](), Handler: okHandler[none]})
		}, "must be a JSON object"},
		{"tool name over 64 characters", func() {
			runtime.AddFunction(newTool(), runtime.Function[none]{Name: strings.Repeat("f", 60), Handler: okHandler[none]})
		}, "longer than 64"},
		{"duplicate chat tool", func() {
			ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
			ext.ChatTool("tool_demo_chat", "")
			ext.ChatTool("tool_demo_chat", "")
		}, `chat tool "tool_demo_chat" already declared`},
		{"malformed chat tool", func() { runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"}).ChatTool("tool demo", "") }, `chat tool name "tool demo"`},
		{"duplicate cache model", func() {
			ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
			runtime.CacheModel[note](ext, "note")
			runtime.CacheModel[note](ext, "note")
		}, `cache model "note" already registered`},
		{"declaration after serving", func() {
			ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
			tool := ext.ChatTool("tool_demo_chat", "")
			d, err := runtime.NewDispatcher(runtime.Options{Extensions: []*runtime.Extension{ext}})
			if err != nil {
				panic(err)
			}
			defer d.Close()
			runtime.AddFunction(tool, runtime.Function[none]{Name: "late", Handler: okHandler[none]})
		}, "already being served"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want one containing %q", msg, tc.want)
				}
			}()
			tc.declare()
		})
	}
}

func TestParamsSchemaIsDerivedOnce(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
	runtime.AddFunction(ext.ChatTool("tool_demo_chat", ""), runtime.Function[echoParams]{
		Name: "echo", Defaults: echoParams{Count: 3, Loud: true}, Handler: okHandler[echoParams],
	})
	fn := ext.Functions()[0]
	var schema struct {
		Type                 string                     `json:"type"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
		Schema               string                     `json:"$schema"`
		Ref                  string                     `json:"$ref"`
	}
	if err := json.Unmarshal(fn.ParamsSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Type != "object" || strings.Join(schema.Required, ",") != "name" ||
		schema.AdditionalProperties == nil || *schema.AdditionalProperties || schema.Schema != "" || schema.Ref != "" {
		t.Fatalf("params schema = %s", fn.ParamsSchema)
	}
	for prop, want := range map[string]string{
		"name":  `{"type":"string","description":"Who to greet."}`,
		"count": `{"type":"integer","default":3}`,
		"loud":  `{"type":"boolean","default":true}`,
	} {
		if got := string(schema.Properties[prop]); got != want {
			t.Errorf("property %s = %s, want %s", prop, got, want)
		}
	}
	if string(fn.ReturnSchema) != `{}` {
		t.Errorf("undeclared return schema = %s, want {}", fn.ReturnSchema)
	}
	if !strings.Contains(string(schema.Properties["inner"]), `"additionalProperties":false`) {
		t.Errorf("nested objects are not closed: %s", schema.Properties["inner"])
	}
}

func TestManifestAndCatalog(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	ext, _ := h.d.Extension("test-app")
	m := runtime.NewManifest(ext)
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

	catalog := runtime.NewCatalog(h.d.Extensions())
	if len(catalog.Tools) != len(m.Tools) {
		t.Fatalf("catalog has %d tools, manifest %d: they must list the same functions", len(catalog.Tools), len(m.Tools))
	}
	first := catalog.Tools[0]
	if first.Name != "test-app__echo" || first.AppID != "test-app" || first.Function != "echo" ||
		string(first.InputSchema) != string(m.Tools[0].ParamsSchema) {
		t.Errorf("catalog tool = %+v", first)
	}
	openai, _ := json.Marshal(catalog.OpenAITools()[0])
	if !strings.HasPrefix(string(openai), `{"type":"function","function":{"name":"test-app__echo","description":"Greets by name.","parameters":{`) {
		t.Errorf("openai tool = %s", openai)
	}

	summary := runtime.Summarize(ext)
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
