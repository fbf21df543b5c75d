package runtime

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/internal/panics"
	"github.com/imperalcloud/exthost/internal/params"
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
	// orchestratorToolPattern names the chat tools themselves, which the
	// SDK's manifest never lists as functions (V25).
	orchestratorToolPattern = regexp.MustCompile(`^tool_.+_chat$`)
	// Event names follow the SDK, which does not restrict them: bare
	// ("archived", as the real mail client declares) and dotted
	// ("email.archived") are both valid.
	eventPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)*$`)
	// An effect is a panel to refresh, "__panel__<id>", or an advisory
	// intent, "<verb>:<noun>" ("update:email").
	panelIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	intentPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z0-9_.*-]+$`)
)

// maxEventLen bounds an event name.
const maxEventLen = 128

// Handler runs one call of a function with its decoded parameters. It returns
// the call's Result; a returned error fails the call with the error's code,
// so handlers return upstream and cache errors as they are.
type Handler[P any] func(c *ctx.Call, params P) (Result, error)

// Validator is implemented by parameters with rules a schema does not
// say, such as "ids or a query". Validate runs once the call's parameters
// are decoded, before the confirmation gate and the handler: its error
// fails the call and nothing runs (a *CodedError keeps its code and
// message; any other error is EXT_UNSTRUCTURED_ERROR).
type Validator interface {
	Validate() error
}

// NoData is the result data of a function that returns none: its successes
// carry nil data, encoded {}.
type NoData struct{}

// Function declares a chat function whose parameters decode into P, a
// struct, and whose successes carry data of type D, a struct or map (or
// NoData). P's JSON Schema, derived once with invopop/jsonschema from its
// json and jsonschema tags, is both the published input schema and the
// validator of every call: tag required fields with `jsonschema:"required"`.
// D's schema is the manifest's return_schema.
type Function[P, D any] struct {
	// Name is the function's name: ^[a-zA-Z_][a-zA-Z0-9_]*$.
	Name string
	// Description tells the model when to call the function.
	Description string
	// ActionType is Read, Write or Destructive; empty means Read.
	ActionType ActionType
	// Effects are "__panel__<id>" (refresh panel <id> after a successful
	// call) and advisory intents "<verb>:<noun>" ("update:email").
	Effects []string
	// Event, when set, is published after every successful call: a bare
	// ("archived") or dotted ("email.archived") lower-case name.
	Event string
	// IDProjection names the parameter carrying the target's id in chains;
	// it must be one of P's fields.
	IDProjection string
	// Confirmation says whether a call runs only once the user has
	// confirmed it; the zero value asks for destructive functions.
	Confirmation Confirmation
	// ConfirmSummary says what a call would do, for the user to confirm;
	// nil says "<Name> will run once you confirm.". It sees the call's
	// converted parameters.
	ConfirmSummary func(params P) string
	// Background says the function answers by starting a task
	// (StartTask); the manifest declares it.
	Background bool
	// LongRunning gives its tasks 1800 s instead of 180 s; it implies
	// Background.
	LongRunning bool
	// Defaults holds the values of parameters a call leaves out. It may set
	// only scalar fields; they also become the schema's "default"s.
	Defaults P
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
	// ConfirmationRequired says calls run only once confirmed.
	ConfirmationRequired bool
	// Background and LongRunning say the function answers by starting a
	// task, and whether that task has the long deadline.
	Background, LongRunning bool
	// ParamsSchema is the JSON Schema of the parameters.
	ParamsSchema json.RawMessage
	// ReturnSchema is the JSON Schema of the result data.
	ReturnSchema json.RawMessage
}

// Confirmation is a function's confirmation policy (DESIGN §13).
type Confirmation uint8

// The confirmation policies.
const (
	// ConfirmIfDestructive asks for confirmation of destructive functions.
	ConfirmIfDestructive Confirmation = iota
	// ConfirmAlways asks for confirmation of every call.
	ConfirmAlways
	// ConfirmNever runs every call unconfirmed, destructive or not.
	ConfirmNever
)

// Func is a declared function with its types erased, as AddFunction
// returns it and a host runs it.
type Func struct {
	info FunctionInfo
	bind func(raw []byte) (Bound, []string, error)
}

// Bound is one call of a function with its parameters bound, ready to run.
type Bound struct {
	run     func(c *ctx.Call) (Result, error)
	summary func() string
}

// Run runs the call.
func (b Bound) Run(c *ctx.Call) (Result, error) { return b.run(c) }

// ConfirmSummary says what the call would do, for the user to confirm.
func (b Bound) ConfirmSummary() string { return b.summary() }

// Name returns the function's name.
func (f *Func) Name() string { return f.info.Name }

// Info describes the function.
func (f *Func) Info() FunctionInfo {
	info := f.info
	info.Effects = slices.Clone(f.info.Effects)
	return info
}

// Panels returns the panels a success refreshes: the ids of its
// "__panel__<id>" effects, in order; nil when it declares none.
func (f *Func) Panels() []string {
	var panels []string
	for _, effect := range f.info.Effects {
		if id, ok := strings.CutPrefix(effect, PanelEffectPrefix); ok {
			panels = append(panels, id)
		}
	}
	return panels
}

// Bind validates and converts the JSON parameters of one call as the SDK's
// Pydantic models do (lax mode) and returns the call ready to run. Empty
// or null parameters are {}. Properties P does not declare are dropped and
// returned, for the log. Bad parameters are an error naming the fields,
// with the code VALIDATION_MISSING_FIELD or VALIDATION_TYPE_ERROR.
func (f *Func) Bind(raw []byte) (run Bound, ignored []string, err error) { return f.bind(raw) }

// AddFunction declares fn as a function of tool's extension (the SDK's
// @chat.function) and returns it. Declare functions at package scope:
//
//	var listInbox = runtime.AddFunction(chat, runtime.Function[ListInboxParams, InboxData]{...})
//
// It derives the schemas once, here, and panics, naming the function, on
// a malformed or duplicate name, an unknown action type, a malformed
// effect or event, an id projection that is not a parameter, a missing
// handler, a P that is not a struct or a D that is not an object.
func AddFunction[P, D any](tool *ChatTool, fn Function[P, D]) *Func {
	if tool == nil {
		panic(fmt.Sprintf("runtime: function %q: declared on a nil chat tool", fn.Name))
	}
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
	case orchestratorToolPattern.MatchString(fn.Name):
		fail("names like %s are the orchestrator's chat tools (the SDK's I-MANIFEST-NO-ORCHESTRATOR-TOOL)", orchestratorToolPattern)
	case len(ext.info.AppID)+2+len(fn.Name) > MaxToolNameLen:
		fail("tool name %s__%s is longer than %d characters", ext.info.AppID, fn.Name, MaxToolNameLen)
	case ext.byName[fn.Name] != nil:
		fail("already declared")
	case fn.Handler == nil:
		fail("no handler")
	case fn.Event != "" && (len(fn.Event) > maxEventLen || !eventPattern.MatchString(fn.Event)):
		fail("event %q must be a bare or dotted lower-case name matching %s", fn.Event, eventPattern)
	}
	if fn.ActionType == "" {
		fn.ActionType = Read
	}
	if fn.ActionType != Read && fn.ActionType != Write && fn.ActionType != Destructive {
		fail("action type %q is not read, write or destructive", fn.ActionType)
	}
	if fn.Confirmation > ConfirmNever {
		fail("confirmation policy %d is not one of the runtime's", fn.Confirmation)
	}
	confirm := fn.Confirmation == ConfirmAlways || (fn.Confirmation == ConfirmIfDestructive && fn.ActionType == Destructive)
	for _, effect := range fn.Effects {
		if err := checkEffect(effect); err != nil {
			fail("%v", err)
		}
	}
	schema, err := params.New(fn.Defaults)
	if err != nil {
		fail("%v", err)
	}
	if fn.IDProjection != "" && !schema.Has(fn.IDProjection) {
		fail("id projection %q is not one of its parameters", fn.IDProjection)
	}
	returns := json.RawMessage(`{}`)
	dataType := reflect.TypeFor[D]()
	if dataType != reflect.TypeFor[NoData]() {
		if err := jsonx.Encodable(dataType); err != nil {
			fail("result data: %v", err)
		}
		if returns, err = params.DataSchema(dataType); err != nil {
			fail("%v", err)
		}
	}
	handler, name, describe := fn.Handler, fn.Name, fn.ConfirmSummary
	if describe == nil {
		describe = func(P) string { return name + " will run once you confirm." }
	}
	background := fn.Background || fn.LongRunning
	f := &Func{
		info: FunctionInfo{
			Name:         fn.Name,
			Description:  fn.Description,
			ActionType:   fn.ActionType,
			Effects:      slices.Clone(fn.Effects),
			Event:        fn.Event,
			IDProjection: fn.IDProjection,
			ChatTool:     tool.name,
			ParamsSchema: schema.JSON(),
			ReturnSchema: returns,

			ConfirmationRequired: confirm,
			Background:           background,
			LongRunning:          fn.LongRunning,
		},
		bind: func(raw []byte) (Bound, []string, error) {
			p, ignored, err := schema.Decode(raw)
			if err != nil {
				return Bound{}, ignored, err
			}
			if v, ok := any(&p).(Validator); ok {
				if err := v.Validate(); err != nil {
					return Bound{}, ignored, err
				}
			}
			b := Bound{run: func(c *ctx.Call) (Result, error) {
				res, err := handler(c, p)
				switch {
				case err != nil || res.Status != StatusSuccess:
				case res.task != nil && !background:
					return Result{}, fmt.Errorf("runtime: function %s: started a task without declaring Background: %w", name, panics.ErrBug)
				case res.task == nil && !carries[D](res.Data):
					return Result{}, fmt.Errorf("runtime: function %s: success data is %T, declared %s: %w",
						name, res.Data, dataType, panics.ErrBug)
				}
				return res, err
			}}
			if confirm {
				b.summary = func() string { return describe(p) }
			}
			return b, ignored, nil
		},
	}
	ext.funcs = append(ext.funcs, f)
	ext.byName[fn.Name] = f
	return f
}

// carries reports whether data is the declared D (or a non-nil *D); NoData
// functions carry nil.
func carries[D any](data any) bool {
	switch data := data.(type) {
	case D:
		return true
	case *D:
		return data != nil
	case nil:
		_, none := any(*new(D)).(NoData)
		return none
	}
	return false
}

func checkEffect(effect string) error {
	if id, ok := strings.CutPrefix(effect, PanelEffectPrefix); ok {
		if !panelIDPattern.MatchString(id) {
			return fmt.Errorf("effect %q: the panel id must match %s", effect, panelIDPattern)
		}
		return nil
	}
	if !intentPattern.MatchString(effect) {
		return fmt.Errorf(`effect %q is neither "__panel__<id>" nor an intent "<verb>:<noun>"`, effect)
	}
	return nil
}
