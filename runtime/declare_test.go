package runtime_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/runtime"
)

type echoParams struct {
	Name  string   `json:"name" jsonschema:"required" jsonschema_description:"Who to greet."`
	Count int      `json:"count"`
	Loud  bool     `json:"loud"`
	Tags  []string `json:"tags"`
	Inner *struct {
		Level int `json:"level" jsonschema:"required"`
	} `json:"inner,omitempty"`
}

type none struct{}

type note struct {
	Text string `json:"text"`
}

func okHandler[P any](*ctx.Call, P) (runtime.Result, error) { return runtime.Success(nil, ""), nil }

// fn declares a function of no parameters and no data.
type fn = runtime.Function[none, runtime.NoData]

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
			runtime.AddFunction(newTool(), fn{Name: "list-inbox", Handler: okHandler[none]})
		}, `function "list-inbox": name must match`},
		{"reserved function name", func() {
			runtime.AddFunction(newTool(), fn{Name: "__panel__x", Handler: okHandler[none]})
		}, "reserved"},
		{"function named like a chat tool", func() {
			runtime.AddFunction(newTool(), fn{Name: "tool_mail_chat", Handler: okHandler[none]})
		}, "orchestrator's chat tools"},
		{"duplicate function", func() {
			tool := newTool()
			runtime.AddFunction(tool, fn{Name: "f", Handler: okHandler[none]})
			runtime.AddFunction(tool, fn{Name: "f", Handler: okHandler[none]})
		}, `function "f": already declared`},
		{"no handler", func() { runtime.AddFunction(newTool(), fn{Name: "f"}) }, "no handler"},
		{"unknown action type", func() {
			runtime.AddFunction(newTool(), fn{Name: "f", ActionType: "delete", Handler: okHandler[none]})
		}, `action type "delete"`},
		{"malformed event", func() {
			runtime.AddFunction(newTool(), fn{Name: "f", Event: "Email Archived", Handler: okHandler[none]})
		}, `event "Email Archived"`},
		{"event with an empty segment", func() {
			runtime.AddFunction(newTool(), fn{Name: "f", Event: "email..archived", Handler: okHandler[none]})
		}, `event "email..archived"`},
		{"malformed panel effect", func() {
			runtime.AddFunction(newTool(), fn{Name: "f", Effects: []string{"__panel__"}, Handler: okHandler[none]})
		}, `effect "__panel__"`},
		{"malformed intent effect", func() {
			runtime.AddFunction(newTool(), fn{Name: "f", Effects: []string{"refresh the sidebar"}, Handler: okHandler[none]})
		}, `effect "refresh the sidebar"`},
		{"id projection that is no parameter", func() {
			runtime.AddFunction(newTool(), runtime.Function[echoParams, runtime.NoData]{Name: "f", IDProjection: "message_id", Handler: okHandler[echoParams]})
		}, `id projection "message_id"`},
		{"params not a struct", func() {
			runtime.AddFunction(newTool(), runtime.Function[map[string]any, runtime.NoData]{Name: "f", Handler: okHandler[map[string]any]})
		}, "parameters must be a struct"},
		{"params field of no JSON type", func() {
			runtime.AddFunction(newTool(), runtime.Function[struct{ C chan int }, runtime.NoData]{Name: "f", Handler: okHandler[struct{ C chan int }]})
		}, "cannot come from JSON"},
		{"non-scalar default", func() {
			runtime.AddFunction(newTool(), runtime.Function[echoParams, runtime.NoData]{Name: "f", Defaults: echoParams{Tags: []string{"x"}}, Handler: okHandler[echoParams]})
		}, "defaults may only set scalar fields"},
		{"data with a field JSON cannot carry", func() {
			runtime.AddFunction(newTool(), runtime.Function[none, struct{ Done chan bool }]{Name: "f", Handler: okHandler[none]})
		}, "field Done is a chan bool"},
		{"nil chat tool", func() {
			runtime.AddFunction(nil, fn{Name: "f", Handler: okHandler[none]})
		}, `function "f": declared on a nil chat tool`},
		{"cache model JSON cannot carry", func() {
			runtime.CacheModel[struct{ F func() }](runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"}), "funcs")
		}, `cache model "funcs": field F is a func()`},
		{"default breaking its own constraint", func() {
			runtime.AddFunction(newTool(), runtime.Function[struct {
				Limit int `json:"limit" jsonschema:"minimum=5"`
			}, runtime.NoData]{Name: "f", Defaults: struct {
				Limit int `json:"limit" jsonschema:"minimum=5"`
			}{Limit: 1}, Handler: okHandler[struct {
				Limit int `json:"limit" jsonschema:"minimum=5"`
			}]})
		}, "defaults break the schema: limit (below the minimum 5)"},
		{"data type not an object", func() {
			runtime.AddFunction(newTool(), runtime.Function[none, []string]{Name: "f", Handler: okHandler[none]})
		}, "must be a JSON object"},
		{"tool name over 64 characters", func() {
			runtime.AddFunction(newTool(), fn{Name: strings.Repeat("f", 60), Handler: okHandler[none]})
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
			ext.Seal()
			runtime.AddFunction(tool, fn{Name: "late", Handler: okHandler[none]})
		}, "already being served"},
		{"cache model after serving", func() {
			ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
			ext.Seal()
			runtime.CacheModel[note](ext, "note")
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

// Event names are the SDK's: it does not restrict them, and the real mail
// client declares bare ones.
func TestEventNamesBareAndDotted(t *testing.T) {
	tool := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"}).ChatTool("tool_demo_chat", "")
	for i, event := range []string{"archived", "sent", "email.archived", "mail:marked_read", "v2_done"} {
		f := runtime.AddFunction(tool, fn{Name: "f" + strings.Repeat("x", i), Event: event, Handler: okHandler[none]})
		if f.Info().Event != event {
			t.Errorf("event %q declared as %q", event, f.Info().Event)
		}
	}
}

// Functions are listed in the order they are declared.
func TestFunctionsKeepDeclarationOrder(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
	tool := ext.ChatTool("tool_demo_chat", "")
	names := []string{"zeta", "alpha", "mid", "beta"}
	for _, name := range names {
		runtime.AddFunction(tool, fn{Name: name, Handler: okHandler[none]})
	}
	var got []string
	for _, f := range ext.Functions() {
		got = append(got, f.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("functions = %v, want %v", got, names)
	}
	if f, ok := ext.Function("mid"); !ok || f.Name() != "mid" {
		t.Fatal("Function(mid) not found")
	}
}

func TestPanelsComeFromEffects(t *testing.T) {
	tool := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"}).ChatTool("tool_demo_chat", "")
	f := runtime.AddFunction(tool, fn{Name: "write", ActionType: runtime.Write,
		Effects: []string{"__panel__sidebar", "update:email", "__panel__inbox-list"}, Handler: okHandler[none]})
	if got := strings.Join(f.Panels(), ","); got != "sidebar,inbox-list" {
		t.Fatalf("panels = %s", got)
	}
	if f := runtime.AddFunction(tool, fn{Name: "read", Handler: okHandler[none]}); f.Panels() != nil || f.Info().ActionType != runtime.Read {
		t.Fatalf("a read without effects: %v %s", f.Panels(), f.Info().ActionType)
	}
}

func TestParamsSchemaIsDerivedOnce(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
	runtime.AddFunction(ext.ChatTool("tool_demo_chat", ""), runtime.Function[echoParams, runtime.NoData]{
		Name: "echo", Defaults: echoParams{Count: 3, Loud: true}, Handler: okHandler[echoParams],
	})
	fn := ext.Functions()[0].Info()
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

// rangeParams refuse a range whose ends are the wrong way round, a rule
// the schema cannot say.
type rangeParams struct {
	From int `json:"from"`
	To   int `json:"to"`
}

func (p *rangeParams) Validate() error {
	if p.From > p.To {
		return &runtime.CodedError{Code: "BAD_RANGE", Message: "from is after to."}
	}
	return nil
}

func TestParamsValidatorRunsBeforeTheHandlerAndTheGate(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "demo-app"})
	ran := false
	fn := runtime.AddFunction(ext.ChatTool("tool_demo_chat", ""), runtime.Function[rangeParams, runtime.NoData]{
		Name: "wipe", ActionType: runtime.Destructive,
		Handler: func(*ctx.Call, rangeParams) (runtime.Result, error) { ran = true; return runtime.Success(nil, ""), nil },
	})
	_, _, err := fn.Bind([]byte(`{"from":3,"to":1}`))
	var coded *runtime.CodedError
	if !errors.As(err, &coded) || coded.Code != "BAD_RANGE" {
		t.Fatalf("Bind of a bad range = %v, want the validator's BAD_RANGE", err)
	}
	run, _, err := fn.Bind([]byte(`{"from":1,"to":3}`))
	if err != nil {
		t.Fatalf("Bind of a good range: %v", err)
	}
	if run.ConfirmSummary() == "" {
		t.Fatal("a destructive call has no confirm summary")
	}
	if ran {
		t.Fatal("binding ran the handler")
	}
}
