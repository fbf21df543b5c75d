// Package catalog renders the declarations of extensions for the
// platform: each extension's imperal.json manifest, the tool catalog with
// its JSON Schemas (also in OpenAI's format) and the extension listing.
package catalog

import (
	"encoding/json"

	"github.com/imperalcloud/exthost/runtime"
)

// SDKContractVersion is the imperal-sdk release whose contract this host
// implements; manifests carry it as sdk_version, which platform loaders require.
const SDKContractVersion = "5.11.0"

// ManifestSchemaVersion is the imperal.json schema version the host writes.
const ManifestSchemaVersion = 3

// Manifest is an extension's imperal.json, as the SDK's generate_manifest
// writes it for an extension with chat functions only. Field order is the
// SDK's key order.
type Manifest struct {
	ManifestSchemaVersion int            `json:"manifest_schema_version"`
	SDKVersion            string         `json:"sdk_version"`
	AppID                 string         `json:"app_id"`
	Version               string         `json:"version"`
	Name                  string         `json:"name"`
	Description           string         `json:"description"`
	Icon                  string         `json:"icon"`
	ActionsExplicit       bool           `json:"actions_explicit"`
	System                bool           `json:"system"`
	Capabilities          []string       `json:"capabilities"`
	Tools                 []ManifestTool `json:"tools"`
	Signals               []struct{}     `json:"signals"`
	Schedules             []struct{}     `json:"schedules"`
	RequiredScopes        []string       `json:"required_scopes"`
	Panels                []struct{}     `json:"panels"`
}

// ManifestTool is one function in a manifest, with the SDK's keys in order.
type ManifestTool struct {
	Name          string             `json:"name"`
	Description   string             `json:"description"`
	ActionType    runtime.ActionType `json:"action_type"`
	ChainCallable bool               `json:"chain_callable"`
	Effects       []string           `json:"effects"`
	IDProjection  string             `json:"id_projection"`
	ParamsSchema  json.RawMessage    `json:"params_schema"`
	ReturnSchema  json.RawMessage    `json:"return_schema"`
	Event         string             `json:"event"`
	Background    bool               `json:"background"`
	LongRunning   bool               `json:"long_running"`
	Scopes        []string           `json:"scopes"`
	OwnerChatTool string             `json:"owner_chat_tool"`
}

// NewManifest returns ext's imperal.json manifest.
func NewManifest(ext *runtime.Extension) Manifest {
	info := ext.Info()
	m := Manifest{
		ManifestSchemaVersion: ManifestSchemaVersion,
		SDKVersion:            SDKContractVersion,
		AppID:                 info.AppID,
		Version:               info.Version,
		Name:                  info.DisplayName,
		Description:           info.Description,
		Icon:                  info.Icon,
		ActionsExplicit:       info.ActionsExplicit,
		Capabilities:          []string{},
		Tools:                 []ManifestTool{},
		Signals:               []struct{}{},
		Schedules:             []struct{}{},
		RequiredScopes:        []string{},
		Panels:                []struct{}{},
	}
	if m.Name == "" {
		m.Name = info.AppID
	}
	for _, fn := range ext.Functions() {
		f := fn.Info()
		if f.Effects == nil {
			f.Effects = []string{}
		}
		m.Tools = append(m.Tools, ManifestTool{
			Name:          f.Name,
			Description:   f.Description,
			ActionType:    f.ActionType,
			ChainCallable: true,
			Effects:       f.Effects,
			IDProjection:  f.IDProjection,
			ParamsSchema:  f.ParamsSchema,
			ReturnSchema:  f.ReturnSchema,
			Event:         f.Event,
			Background:    f.Background,
			LongRunning:   f.LongRunning,
			Scopes:        []string{},
			OwnerChatTool: f.ChatTool,
		})
	}
	return m
}

// ToolName is the LLM-facing name of a function: "<app_id>__<function>".
func ToolName(appID, function string) string { return appID + "__" + function }

// Tool is one function in the host's tool catalog.
type Tool struct {
	Name        string             `json:"name"`
	AppID       string             `json:"app_id"`
	Function    string             `json:"function"`
	Description string             `json:"description"`
	ActionType  runtime.ActionType `json:"action_type"`
	InputSchema json.RawMessage    `json:"input_schema"`
}

// Catalog is the tool catalog of GET /v1/tools.
type Catalog struct {
	Tools []Tool `json:"tools"`
}

// NewCatalog lists every function of exts, in their order.
func NewCatalog(exts []*runtime.Extension) Catalog {
	c := Catalog{Tools: []Tool{}}
	for _, ext := range exts {
		for _, fn := range ext.Functions() {
			f := fn.Info()
			c.Tools = append(c.Tools, Tool{
				Name:        ToolName(ext.AppID(), f.Name),
				AppID:       ext.AppID(),
				Function:    f.Name,
				Description: f.Description,
				ActionType:  f.ActionType,
				InputSchema: f.ParamsSchema,
			})
		}
	}
	return c
}

// OpenAITool is a function in OpenAI's tool format.
type OpenAITool struct {
	Type     string         `json:"type"`
	Function OpenAIFunction `json:"function"`
}

// OpenAIFunction is the function part of an OpenAITool.
type OpenAIFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// OpenAITools returns the catalog in OpenAI's function-calling format.
func (c Catalog) OpenAITools() []OpenAITool {
	tools := make([]OpenAITool, len(c.Tools))
	for i, t := range c.Tools {
		tools[i] = OpenAITool{Type: "function", Function: OpenAIFunction{Name: t.Name, Description: t.Description, Parameters: t.InputSchema}}
	}
	return tools
}

// ExtensionSummary describes an extension in GET /v1/extensions.
type ExtensionSummary struct {
	AppID       string   `json:"app_id"`
	Version     string   `json:"version"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Functions   []string `json:"functions"`
}

// Summarize describes ext for listings.
func Summarize(ext *runtime.Extension) ExtensionSummary {
	info := ext.Info()
	s := ExtensionSummary{AppID: info.AppID, Version: info.Version, Name: info.DisplayName,
		Description: info.Description, Functions: []string{}}
	if s.Name == "" {
		s.Name = info.AppID
	}
	for _, f := range ext.Functions() {
		s.Functions = append(s.Functions, f.Name())
	}
	return s
}
