// Package notes is an extension written outside the host's repository:
// short notes per user, kept by a notes-service. It has a cached read,
// list_notes, and a write, add_note, that invalidates what it changed,
// refreshes the notes panel and publishes an event.
//
// A host binary links it in with a blank import (see cmd/notes-host).
package notes

import (
	"fmt"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

var ext = runtime.NewExtension(runtime.ExtensionInfo{
	AppID:           "notes",
	Version:         "0.1.0",
	DisplayName:     "Notes",
	Description:     "Notes extension — write and find short notes.",
	Icon:            "icon.svg",
	ActionsExplicit: true,
})

var chat = ext.ChatTool("tool_notes_chat", "Notes — write and find short notes.")

func init() { registry.Register(ext) }

// Extension returns the notes extension, for tests that serve it in a host
// of their own (hosttest).
func Extension() *runtime.Extension { return ext }

// Note is one note.
type Note struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// NoteList is a folder's notes, as cached under "note_list".
type NoteList struct {
	Folder    string `json:"folder"`
	Notes     []Note `json:"notes"`
	FetchedAt string `json:"fetched_at"`
}

var noteLists = runtime.CacheModel[NoteList](ext, "note_list")

func listKey(folder string) string { return "notes:" + folder }

// ── list_notes: a cached read ───────────────────────────────────────────────

// ListNotesParams are list_notes's parameters.
type ListNotesParams struct {
	Folder string `json:"folder" jsonschema_description:"Folder to list."`
	Limit  int    `json:"limit" jsonschema:"minimum=1,maximum=50" jsonschema_description:"How many notes to return."`
}

// ListNotesData is list_notes's result data.
type ListNotesData struct {
	Notes []Note `json:"notes"`
	Total int    `json:"total"`
}

// ListNotes is list_notes.
var ListNotes = runtime.AddFunction(chat, runtime.Function[ListNotesParams, ListNotesData]{
	Name:        "list_notes",
	Description: "List the user's notes in a folder, newest first.",
	ActionType:  runtime.Read,
	Defaults:    ListNotesParams{Folder: "inbox", Limit: 10},
	Handler:     listNotes,
})

func listNotes(c *ctx.Call, p ListNotesParams) (runtime.Result, error) {
	// On a miss, the fetch gets f: the call detached from any one caller,
	// since concurrent misses share it.
	list, err := noteLists.GetOrFetch(c, listKey(p.Folder), 30*time.Second, func(f *ctx.Call) (NoteList, error) {
		resp, err := f.HTTP().Get(f, "http://notes-service/v1/notes", httpclient.Params{
			"user_id": f.UserID(), "folder": p.Folder,
		})
		if err != nil {
			return NoteList{}, err
		}
		var body struct {
			Notes []Note `json:"notes"`
		}
		if err := resp.Decode(&body); err != nil {
			return NoteList{}, err
		}
		return NoteList{Folder: p.Folder, Notes: body.Notes, FetchedAt: f.Now().UTC().Format(time.RFC3339)}, nil
	})
	if err != nil {
		return runtime.Result{}, err
	}
	// list.Notes is shared with every other reader of the entry: slice it,
	// never change it.
	notes := list.Notes[:min(p.Limit, len(list.Notes))]
	return runtime.Success(ListNotesData{Notes: notes, Total: len(list.Notes)},
		fmt.Sprintf("%d of %d note(s) in %s.", len(notes), len(list.Notes), p.Folder)), nil
}

// ── add_note: a write that invalidates ──────────────────────────────────────

// AddNoteParams are add_note's parameters.
type AddNoteParams struct {
	Text   string `json:"text" jsonschema:"required,minLength=1,maxLength=500" jsonschema_description:"The note."`
	Folder string `json:"folder" jsonschema_description:"Folder to add it to."`
}

// AddNoteData is add_note's result data.
type AddNoteData struct {
	ID     string `json:"id"`
	Folder string `json:"folder"`
}

// AddNote is add_note.
var AddNote = runtime.AddFunction(chat, runtime.Function[AddNoteParams, AddNoteData]{
	Name:        "add_note",
	Description: "Add a note to a folder.",
	ActionType:  runtime.Write,
	Effects:     []string{"__panel__notes", "create:note"},
	Event:       "note.added",
	Defaults:    AddNoteParams{Folder: "inbox"},
	Handler:     addNote,
})

func addNote(c *ctx.Call, p AddNoteParams) (runtime.Result, error) {
	resp, err := c.HTTP().Post(c, "http://notes-service/v1/notes", httpclient.JSON(map[string]string{
		"user_id": c.UserID(), "folder": p.Folder, "text": p.Text,
	}))
	if err != nil {
		return runtime.Result{}, err
	}
	var created Note
	if err := resp.Decode(&created); err != nil {
		return runtime.Result{}, err
	}
	// The write happened: the next list_notes must not serve the old list.
	if err := c.Cache().Delete(c, listKey(p.Folder)); err != nil {
		c.Log().Warn("note list not invalidated; it expires within its TTL")
	}
	return runtime.Success(AddNoteData{ID: created.ID, Folder: p.Folder}, "Note added."), nil
}
