package notes_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"example.com/notes/notes"

	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

// notesService is a canned notes-service: one note in the inbox, and a
// write that creates n-0002.
func notesService() http.Handler {
	return hosttest.JSON(map[string]any{
		"GET /v1/notes":  map[string]any{"notes": []notes.Note{{ID: "n-0001", Text: "buy milk"}}},
		"POST /v1/notes": notes.Note{ID: "n-0002", Text: "call Ann"},
	})
}

func newHost(t *testing.T) *hosttest.Host {
	return hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{notes.Extension()},
		Upstreams:  map[string]http.Handler{"notes-service": notesService()},
	})
}

// The second read is a cache hit; a write drops the list it made stale,
// refreshes the notes panel and publishes note.added.
func TestReadCachedThenWriteInvalidates(t *testing.T) {
	h := newHost(t)
	first := h.Call("notes", notes.ListNotes.Name(), nil)
	second := h.Call("notes", notes.ListNotes.Name(), map[string]any{"limit": "5"}) // "5": as the SDK's models take it
	if first.Summary != "1 of 1 note(s) in inbox." || second.Trace.CacheHits != 1 || len(h.Requests("notes-service")) != 1 {
		t.Fatalf("reads: %s / %s, %d upstream requests", first.JSON, second.JSON, len(h.Requests("notes-service")))
	}
	added := h.Call("notes", notes.AddNote.Name(), map[string]any{"text": "call Ann"})
	if !added.OK() || strings.Join(added.RefreshPanels, ",") != "notes" {
		t.Fatalf("add_note = %s", added.JSON)
	}
	if events := h.Events(); len(events) != 1 || events[0].EventType != "note.added" || events[0].SourceApp != "notes" {
		t.Fatalf("events = %+v", events)
	}
	if again := h.Call("notes", notes.ListNotes.Name(), nil); again.Trace.CacheMisses != 1 {
		t.Fatalf("the read after the write was not fresh: %+v", again.Trace)
	}
}

func TestBadInput(t *testing.T) {
	h := newHost(t)
	for params, code := range map[string]string{
		`{"text":""}`:             runtime.CodeValidationTypeError,    // minLength=1
		`{}`:                      runtime.CodeValidationMissingField, // text is required
		`{"text":["a"]}`:          runtime.CodeValidationTypeError,
		`{"text":"a","folder":3}`: runtime.CodeValidationTypeError, // 3 is no string
	} {
		if res := h.Call("notes", notes.AddNote.Name(), json.RawMessage(params)); res.ErrorCode != code {
			t.Errorf("add_note %s = %s, want %s", params, res.JSON, code)
		}
	}
	if n := len(h.Requests("notes-service")); n != 0 {
		t.Errorf("bad input reached the notes-service %d times", n)
	}
}
