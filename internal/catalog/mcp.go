package catalog

import (
	"encoding/json"
	"fmt"

	"github.com/buger/jsonparser"

	"github.com/imperalcloud/exthost/runtime"
)

// MaxMCPToolNameLen bounds a tool name: the chat models that call MCP
// tools refuse longer names (the protocol itself allows 128).
const MaxMCPToolNameLen = 64

// ConfirmationTokenArgument is the argument that carries a confirmation
// token in an MCP tools/call or a Fast-RPC call, whose callers send
// arguments only: a function behind the confirmation gate takes one more,
// which the host removes before the parameters are read.
const ConfirmationTokenArgument = "confirmation_token"

// MCPTool is a function as an MCP tool (DESIGN §14), with the protocol's
// field names.
type MCPTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// AppID and Function say which function the tool calls.
	AppID    string `json:"-"`
	Function string `json:"-"`
	// Confirmed says calls wait at the confirmation gate, so the input
	// schema has ConfirmationTokenArgument.
	Confirmed    bool            `json:"-"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  MCPAnnotations  `json:"annotations"`
}

// MCPAnnotations are the behaviour hints of an MCP tool, from its
// function's action type.
type MCPAnnotations struct {
	ReadOnlyHint    bool  `json:"readOnlyHint"`
	DestructiveHint *bool `json:"destructiveHint,omitempty"`
	IdempotentHint  bool  `json:"idempotentHint"`
}

// MCPTools lists every function of exts as an MCP tool, in their order. A
// name longer than MaxMCPToolNameLen is an error: a tool that no model can
// call is a declaration to fix, found at start-up.
func MCPTools(exts []*runtime.Extension) ([]MCPTool, error) {
	var tools []MCPTool
	for _, ext := range exts {
		for _, fn := range ext.Functions() {
			f := fn.Info()
			t := MCPTool{
				Name:        ToolName(ext.AppID(), f.Name),
				Description: f.Description,
				AppID:       ext.AppID(),
				Function:    f.Name,
				Confirmed:   f.ConfirmationRequired,
				InputSchema: f.ParamsSchema,
				Annotations: annotations(f.ActionType),
			}
			if len(t.Name) > MaxMCPToolNameLen {
				return nil, fmt.Errorf("catalog: MCP tool %s is longer than %d characters", t.Name, MaxMCPToolNameLen)
			}
			if t.Confirmed {
				var err error
				if t.InputSchema, err = withConfirmationToken(f.ParamsSchema); err != nil {
					return nil, fmt.Errorf("catalog: %s input schema: %w", t.Name, err)
				}
			}
			if len(f.ReturnSchema) > 0 {
				t.OutputSchema = actionResultSchema
			}
			tools = append(tools, t)
		}
	}
	return tools, nil
}

func annotations(action runtime.ActionType) MCPAnnotations {
	destructive := action == runtime.Destructive
	a := MCPAnnotations{ReadOnlyHint: action == runtime.Read, IdempotentHint: action == runtime.Read}
	if !a.ReadOnlyHint {
		// The protocol's default for a tool that writes is destructive: a
		// write says it is not.
		a.DestructiveHint = &destructive
	}
	return a
}

// withConfirmationToken adds ConfirmationTokenArgument to a parameters
// schema.
func withConfirmationToken(params json.RawMessage) (json.RawMessage, error) {
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(params, &schema); err != nil {
		return nil, err
	}
	props := map[string]json.RawMessage{}
	if raw, ok := schema["properties"]; ok {
		if err := json.Unmarshal(raw, &props); err != nil {
			return nil, err
		}
	}
	props[ConfirmationTokenArgument] = json.RawMessage(`{"type":"string","description":` +
		`"Leave out at first: the call answers CONFIRMATION_REQUIRED with a token. Once the user agrees, ` +
		`call again with the same arguments and this token."}`)
	var err error
	if schema["properties"], err = json.Marshal(props); err != nil {
		return nil, err
	}
	return json.Marshal(schema)
}

// actionResultSchema is the schema of an MCP tool's structured content:
// the ActionResult. Its data stays an object of any shape: the result
// types' derived schemas say "integer" for a field a handler leaves null
// (a *int), and clients validate structured content against the output
// schema, so copying them in refused real answers (inbox's total).
var actionResultSchema = json.RawMessage(`{"type":"object",` +
	`"properties":{"status":{"enum":["success","error"]},"summary":{"type":"string"},"data":{"type":"object"},` +
	`"error":{"type":"string"},"error_code":{"type":"string"},"retryable":{"type":"boolean"},"ui":{"type":"object"},` +
	`"refresh_panels":{"type":"array","items":{"type":"string"}}},` +
	`"required":["status","summary","data"]}`)

// SplitConfirmation returns a call's parameters, which are its arguments
// without the confirmation token of a gated function, and that token: the
// transports whose callers can send arguments only (MCP, Fast-RPC) carry
// the token as ConfirmationTokenArgument. ok is false when the token is
// not a string.
func SplitConfirmation(args json.RawMessage, gated bool) (params json.RawMessage, token string, ok bool) {
	if len(args) == 0 || string(args) == "null" {
		return json.RawMessage("{}"), "", true
	}
	if !gated {
		return args, "", true
	}
	value, typ, _, err := jsonparser.Get(args, ConfirmationTokenArgument)
	switch {
	case err != nil:
		// No token, or arguments that are no object, which the
		// parameters' own check refuses.
		return args, "", true
	case typ != jsonparser.String:
		return nil, "", false
	}
	if token, err = jsonparser.ParseString(value); err != nil {
		return nil, "", false
	}
	params = jsonparser.Delete(append(json.RawMessage(nil), args...), ConfirmationTokenArgument)
	return params, token, true
}
