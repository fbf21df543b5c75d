package runtime_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// NotePage is the notes extension's cached page.
type NotePage struct {
	Notes []string `json:"notes"`
}

// ListNotesParams are list_notes's parameters.
type ListNotesParams struct {
	Folder string `json:"folder" jsonschema_description:"Folder to list."`
	Limit  int    `json:"limit" jsonschema_description:"How many notes to list."`
}

// NotesData is list_notes's result data.
type NotesData struct {
	Notes []string `json:"notes"`
}

// An extension with one cached read, declared at package scope in a real
// extension, here in the example: the second call is a cache hit, and the
// model's "3" for an integer is converted, as the SDK's Pydantic models do.
func ExampleAddFunction() {
	ext := runtime.NewExtension(runtime.ExtensionInfo{
		AppID: "notes", Version: "1.0.0", DisplayName: "Notes",
		Description: "Keep short notes for the user.", ActionsExplicit: true,
	})
	chat := ext.ChatTool("tool_notes_chat", "Notes — write and find notes.")
	notePages := runtime.CacheModel[NotePage](ext, "note_page")

	runtime.AddFunction(chat, runtime.Function[ListNotesParams, NotesData]{
		Name:        "list_notes",
		Description: "List the user's notes in a folder.",
		ActionType:  runtime.Read,
		Defaults:    ListNotesParams{Folder: "all", Limit: 10},
		Handler: func(c *ctx.Call, p ListNotesParams) (runtime.Result, error) {
			page, err := notePages.GetOrFetch(c, "notes:"+p.Folder, time.Minute, func(f *ctx.Call) (NotePage, error) {
				resp, err := f.HTTP().Get(f, "http://notes-service/v1/notes", httpclient.Params{"folder": p.Folder})
				if err != nil {
					return NotePage{}, err
				}
				var page NotePage
				return page, resp.Decode(&page)
			})
			if err != nil {
				return runtime.Result{}, err
			}
			notes := page.Notes[:min(p.Limit, len(page.Notes))]
			return runtime.Success(NotesData{Notes: notes}, fmt.Sprintf("%d note(s).", len(notes))), nil
		},
	})

	t := hosttest.NewStandalone()
	defer t.Done()
	h := hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{ext},
		Upstreams: map[string]http.Handler{"notes-service": hosttest.JSON(map[string]any{
			"GET /v1/notes": NotePage{Notes: []string{"buy milk", "call Ann", "water plants"}},
		})},
	})
	for range 2 {
		res := h.Call("notes", "list_notes", map[string]any{"limit": "2"})
		fmt.Printf("%s hits=%d upstream=%d\n", res.JSON, res.Trace.CacheHits, len(res.Trace.Upstream))
	}
	// Output:
	// {"status":"success","summary":"2 note(s).","data":{"notes":["buy milk","call Ann"]}} hits=0 upstream=1
	// {"status":"success","summary":"2 note(s).","data":{"notes":["buy milk","call Ann"]}} hits=1 upstream=0
}
