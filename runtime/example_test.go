package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

type NotePage struct {
	Notes []string `json:"notes"`
}

type ListNotesParams struct {
	Folder string `json:"folder" jsonschema_description:"Folder to list."`
}

// An extension with one cached read, served by a dispatcher and called twice:
// the second call is a cache hit.
func ExampleAddFunction() {
	notesService := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"notes":["buy milk","call Ann"]}`)
	}))
	defer notesService.Close()

	ext := runtime.NewExtension(runtime.ExtensionInfo{
		AppID: "notes", Version: "1.0.0", DisplayName: "Notes",
		Description: "Keep short notes for the user.", ActionsExplicit: true,
	})
	chat := ext.ChatTool("tool_notes_chat", "Notes — write and find notes.")
	notePages := runtime.CacheModel[NotePage](ext, "note_page")

	runtime.AddFunction(chat, runtime.Function[ListNotesParams]{
		Name:        "list_notes",
		Description: "List the user's notes in a folder.",
		ActionType:  runtime.Read,
		Defaults:    ListNotesParams{Folder: "all"},
		Handler: func(c *ctx.Call, p ListNotesParams) (runtime.Result, error) {
			page, err := notePages.GetOrFetch(c, "notes:"+p.Folder, time.Minute,
				func(ctx context.Context) (NotePage, error) {
					resp, err := c.HTTP.Get(ctx, "http://notes-service/v1/notes", httpclient.Params{"folder": p.Folder})
					if err != nil {
						return NotePage{}, err
					}
					if err := resp.Err(); err != nil {
						return NotePage{}, err
					}
					var page NotePage
					return page, resp.JSON(&page)
				})
			if err != nil {
				return runtime.Result{}, err
			}
			return runtime.Success(page, fmt.Sprintf("%d note(s).", len(page.Notes))), nil
		},
	})

	upstreams, _ := httpclient.New(httpclient.Config{Services: map[string]string{"notes-service": notesService.URL}})
	d, _ := runtime.NewDispatcher(runtime.Options{Extensions: registry.New(ext).List(), HTTP: upstreams})
	defer d.Close()
	for range 2 {
		res, trace := d.Call(context.Background(), runtime.Request{
			AppID: "notes", Function: "list_notes", Params: json.RawMessage(`{}`),
			User: ctx.User{ImperalID: "imp_u_1", TenantID: "default"},
		})
		out, _ := res.MarshalJSON()
		fmt.Printf("%s hits=%d upstream=%d\n", out, trace.CacheHits, len(trace.Upstream))
	}
	// Output:
	// {"status":"success","summary":"2 note(s).","data":{"notes":["buy milk","call Ann"]}} hits=0 upstream=1
	// {"status":"success","summary":"2 note(s).","data":{"notes":["buy milk","call Ann"]}} hits=1 upstream=0
}
