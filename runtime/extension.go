package runtime

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync/atomic"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/store"
)

var (
	appIDPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)
	chatToolPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

// ExtensionInfo is an extension's metadata, as the SDK's Extension(...)
// arguments; it becomes the top of the imperal.json manifest.
type ExtensionInfo struct {
	// AppID identifies the extension: ^[a-z0-9][a-z0-9-]*[a-z0-9]$.
	AppID string
	// Version is the extension's semantic version.
	Version string
	// DisplayName is the manifest "name"; empty means AppID.
	DisplayName string
	// Description says what the extension does.
	Description string
	// Icon is the path of the extension's SVG icon.
	Icon string
	// ActionsExplicit declares the typed-dispatch contract (the platform requires true).
	ActionsExplicit bool
}

// Extension is one compiled-in extension: its metadata, chat tools,
// functions and cache models. Declare it at package scope with NewExtension,
// add its parts from the same package, and register it with the registry
// from init(). Once a host serves it, it is sealed: adding to it panics.
type Extension struct {
	info    ExtensionInfo
	tools   []*ChatTool
	funcs   []*Func
	byName  map[string]*Func
	models  *cache.Models
	docs    *store.Collections
	config  func(json.RawMessage) (any, error) // nil: no config declared
	secrets []SecretDecl
	sealed  atomic.Bool
}

// NewExtension returns an extension described by info. It panics when the
// app id is malformed: extensions are declared at start-up, where a bad
// declaration must stop the process.
func NewExtension(info ExtensionInfo) *Extension {
	if !appIDPattern.MatchString(info.AppID) {
		panic(fmt.Sprintf("runtime: extension app id %q must match %s", info.AppID, appIDPattern))
	}
	return &Extension{info: info, byName: make(map[string]*Func), models: cache.NewModels(info.AppID), docs: store.NewCollections(info.AppID)}
}

// Info returns the extension's metadata.
func (e *Extension) Info() ExtensionInfo { return e.info }

// AppID returns the extension's app id.
func (e *Extension) AppID() string { return e.info.AppID }

// Functions returns the extension's functions in declaration order.
func (e *Extension) Functions() []*Func { return slices.Clone(e.funcs) }

// Function returns the extension's function called name.
func (e *Extension) Function(name string) (*Func, bool) {
	f, ok := e.byName[name]
	return f, ok
}

// CacheModels returns the extension's registered cache models, which a
// host binds each call's cache client to.
func (e *Extension) CacheModels() *cache.Models { return e.models }

// Collections returns the extension's declared store collections, which a
// host binds each call's store client to.
func (e *Extension) Collections() *store.Collections { return e.docs }

// Seal freezes the declarations. A host seals an extension when it starts
// serving it: from then on, adding a function, tool or model panics.
func (e *Extension) Seal() {
	e.sealed.Store(true)
	e.models.Seal()
	e.docs.Seal()
}

// ChatTool declares a chat tool of the extension, the SDK's ChatExtension:
// the owner of functions, named for instance "tool_mail_chat". It panics on
// a malformed or duplicate name.
func (e *Extension) ChatTool(name, description string) *ChatTool {
	e.mustBeOpen("chat tool " + name)
	if !chatToolPattern.MatchString(name) {
		panic(fmt.Sprintf("runtime: %s: chat tool name %q must match %s", e.info.AppID, name, chatToolPattern))
	}
	for _, t := range e.tools {
		if t.name == name {
			panic(fmt.Sprintf("runtime: %s: chat tool %q already declared", e.info.AppID, name))
		}
	}
	t := &ChatTool{ext: e, name: name, description: description}
	e.tools = append(e.tools, t)
	return t
}

func (e *Extension) mustBeOpen(what string) {
	if e.sealed.Load() {
		panic(fmt.Sprintf("runtime: %s: cannot add %s: the extension is already being served", e.info.AppID, what))
	}
}

// ChatTool is a chat tool of an extension, owning functions.
type ChatTool struct {
	ext         *Extension
	name        string
	description string
}

// Name returns the chat tool's name.
func (t *ChatTool) Name() string { return t.name }

// Description returns the chat tool's description.
func (t *ChatTool) Description() string { return t.description }

// Extension returns the extension the tool belongs to.
func (t *ChatTool) Extension() *Extension { return t.ext }
