package runtime

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/jsonx"
)

// ActionType says what a function does to the user's data. The platform
// asks the user to confirm destructive calls.
type ActionType string

// The action types.
const (
	Read        ActionType = "read"
	Write       ActionType = "write"
	Destructive ActionType = "destructive"
)

// PanelEffectPrefix marks an effect that names a panel to refresh after a
// successful call: "__panel__sidebar" refreshes "sidebar".
const PanelEffectPrefix = "__panel__"

// MaxToolNameLen is the providers' cap on an LLM-facing tool name,
// "<app_id>__<function>".
const MaxToolNameLen = 64

var (
	functionNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	eventPattern        = regexp.MustCompile(`^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)+$`)
)

// Handler runs one call of a function with its decoded parameters. It returns
// the call's ActionResult; a returned error fails the call with the error's
// code (see CodeOf), so handlers return upstream and cache errors as they are.
type Handler[P any] func(c *ctx.Call, params P) (Result, error)

// Function declares a chat function whose parameters decode into P, a struct.
// P's JSON Schema, derived once with invopop/jsonschema from its json and
// jsonschema tags, is both the published input schema and the validator of
// every call: tag required fields with `jsonschema:"required"`.
type Function[P any] struct {
	// Name is the function's name: ^[a-zA-Z_][a-zA-Z0-9_]*$.
	Name string
	// Description tells the model when to call the function.
	Description string
	// ActionType is Read, Write or Destructive; empty means Read.
	ActionType ActionType
	// Effects are advisory intent strings ("update:email"); each
	// "__panel__<id>" also refreshes panel <id> after a successful call.
	Effects []string
	// Event, when set, is published after every successful call
	// (^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)+$, e.g. "email.archived").
	Event string
	// IDProjection names the parameter carrying the target's id in chains.
	IDProjection string
	// Defaults holds the values of parameters a call leaves out. It may set
	// only scalar fields; they also become the schema's "default"s.
	Defaults P
	// Returns is the type of the result's data, for the manifest's
	// return_schema; nil publishes {}.
	Returns reflect.Type
	// Handler runs the call.
	Handler Handler[P]
}

// FunctionInfo describes a declared function.
type FunctionInfo struct {
	Name         string
	Description  string
	ActionType   ActionType
	Effects      []string
	Event        string
	IDProjection string
	// ChatTool is the owning chat tool's name.
	ChatTool string
	// ParamsSchema is the JSON Schema of the parameters.
	ParamsSchema json.RawMessage
	// ReturnSchema is the JSON Schema of the result data, {} when undeclared.
	ReturnSchema json.RawMessage
}

// function is a declared function with its type erased: the dispatcher
// handles every function alike.
type function struct {
	FunctionInfo
	panels []string
	params *paramsSchema
	decode func(raw []byte) (any, error)
	handle func(c *ctx.Call, params any) (Result, error)
}

func (f *function) info() FunctionInfo {
	fi := f.FunctionInfo
	fi.Effects = append([]string(nil), f.Effects...)
	return fi
}

// AddFunction declares fn as a function of tool's extension (the SDK's
// @chat.function). It derives and compiles the parameter schema once, here.
// It panics, naming the function, on a malformed or duplicate name, an
// unknown action type, a malformed event, a missing handler, or a P that is
// not a struct: declarations run at start-up, never at first call.
func AddFunction[P any](tool *ChatTool, fn Function[P]) {
	ext := tool.ext
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("runtime: %s: function %q: %s", ext.info.AppID, fn.Name, fmt.Sprintf(format, args...)))
	}
	ext.mustBeOpen("function " + fn.Name)
	switch {
	case !functionNamePattern.MatchString(fn.Name):
		fail("name must match %s", functionNamePattern)
	case strings.HasPrefix(fn.Name, "__"):
		fail(`names starting with "__" are reserved for synthetic tools`)
	case len(ext.info.AppID)+2+len(fn.Name) > MaxToolNameLen:
		fail("tool name %s__%s is longer than %d characters", ext.info.AppID, fn.Name, MaxToolNameLen)
	case ext.byName[fn.Name] != nil:
		fail("already declared")
	case fn.Handler == nil:
		fail("no handler")
	case fn.Event != "" && !eventPattern.MatchString(fn.Event):
		fail("event %q must match %s", fn.Event, eventPattern)
	}
	if fn.ActionType == "" {
		fn.ActionType = Read
	}
	if fn.ActionType != Read && fn.ActionType != Write && fn.ActionType != Destructive {
		fail("action type %q is not read, write or destructive", fn.ActionType)
	}
	params, err := newParamsSchema(reflect.TypeFor[P](), fn.Defaults)
	if err != nil {
		fail("%v", err)
	}
	returns := json.RawMessage(`{}`)
	if fn.Returns != nil {
		if returns, err = dataSchema(fn.Returns); err != nil {
			fail("%v", err)
		}
	}
	var panels []string
	for _, effect := range fn.Effects {
		if id, ok := strings.CutPrefix(effect, PanelEffectPrefix); ok && id != "" {
			panels = append(panels, id)
		}
	}
	defaults, handler := fn.Defaults, fn.Handler
	f := &function{
		FunctionInfo: FunctionInfo{
			Name:         fn.Name,
			Description:  fn.Description,
			ActionType:   fn.ActionType,
			Effects:      append([]string(nil), fn.Effects...),
			Event:        fn.Event,
			IDProjection: fn.IDProjection,
			ChatTool:     tool.name,
			ParamsSchema: params.published,
			ReturnSchema: returns,
		},
		panels: panels,
		params: params,
		decode: func(raw []byte) (any, error) {
			p := defaults
			if err := jsonx.Unmarshal(raw, &p); err != nil {
				return nil, decodeError(err)
			}
			return p, nil
		},
		handle: func(c *ctx.Call, p any) (Result, error) { return handler(c, p.(P)) },
	}
	ext.funcs = append(ext.funcs, f)
	ext.byName[fn.Name] = f
}
