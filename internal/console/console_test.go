package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/console"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
)

func newConsole(t *testing.T, calls int) (*console.Console, *httptest.Server, *cache.Store) {
	t.Helper()
	mem, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := cache.NewStore(mem, cache.Options{RecordReads: true, KeyNames: 100})
	t.Cleanup(func() { _ = store.Close() })
	c := console.New(console.Options{Cache: store, Apps: []string{"mail"}, Calls: calls})
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return c, srv, store
}

func trace(fn, user string, status runtime.Status, answer string) dispatch.Trace {
	return dispatch.Trace{Start: time.Now(), RequestID: "r-" + fn, AppID: "mail", Function: fn, UserID: user, Status: status,
		Params: json.RawMessage(` { "a" : 1 } `), Answer: []byte(answer),
		CacheReads: []cache.Read{{Model: "inbox_page", Key: "k", Hit: true, Bytes: 10}}}
}

// The console keeps the newest calls, copies what the trace lends, and
// filters them.
func TestCallsAreKeptCopiedAndFiltered(t *testing.T) {
	c, _, _ := newConsole(t, 3)
	answer := []byte(`{"status":"success","summary":"","data":{}}`)
	tr := trace("list_inbox", "u1", runtime.StatusSuccess, "")
	tr.Answer = answer
	c.Call(tr)
	answer[2] = 'X' // the dispatcher reuses its buffer
	c.Call(trace("archive", "u2", runtime.StatusError, `{"status":"error"}`))
	c.Call(trace("list_inbox", "u2", runtime.StatusSuccess, `{"status":"success"}`))
	c.Call(trace("star", "u1", runtime.StatusSuccess, `not json`))

	all := c.Calls(console.Filter{})
	if len(all) != 3 || all[0].Function != "star" || all[2].Function != "archive" {
		t.Fatalf("kept %+v, want the newest three, newest first", all)
	}
	if string(all[0].Answer) != "null" || string(all[1].Params) != `{"a":1}` || len(all[1].CacheReads) != 1 {
		t.Fatalf("recorded %s %s %+v", all[0].Answer, all[1].Params, all[1].CacheReads)
	}
	cases := []struct {
		f    console.Filter
		want []string
	}{
		{console.Filter{Function: "list_inbox"}, []string{"list_inbox"}},
		{console.Filter{UserID: "u2"}, []string{"list_inbox", "archive"}},
		{console.Filter{Status: runtime.StatusError}, []string{"archive"}},
		{console.Filter{UserID: "u1", Status: runtime.StatusError}, nil},
		{console.Filter{RequestID: "r-archive"}, []string{"archive"}},
	}
	for _, tc := range cases {
		var got []string
		for _, call := range c.Calls(tc.f) {
			got = append(got, call.Function)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%+v: %v, want %v", tc.f, got, tc.want)
		}
	}
}

// The live tail sends each call recorded after the page connected, past
// the server's write timeout (which bounds an answer, not a tail), until
// the console closes.
func TestTheTailStreamsCallsUntilClosed(t *testing.T) {
	c, _, _ := newConsole(t, 10)
	srv := httptest.NewUnstartedServer(c.Handler())
	srv.Config.WriteTimeout = time.Nanosecond // already passed when the handler starts
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/console/api/calls/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %s", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // the comment that opens the stream
	c.Call(trace("list_inbox", "u1", runtime.StatusSuccess, `{"status":"success"}`))
	var event, data string
	for lines.Scan() && (event == "" || data == "") {
		if v, ok := strings.CutPrefix(lines.Text(), "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			data = v
		}
	}
	var call console.Call
	if event != "call" || json.Unmarshal([]byte(data), &call) != nil || call.Function != "list_inbox" || call.Seq != 1 {
		t.Fatalf("event %q data %s", event, data)
	}
	c.Close()
	for lines.Scan() {
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("the tail ended with %v, want a clean end on Close", err)
	}
}

// The page's files are served by name; anything else under /console/ is
// a JSON 404.
func TestUnknownConsolePathsAreNotFound(t *testing.T) {
	_, srv, _ := newConsole(t, 10)
	for path, want := range map[string]int{
		"/console/assets/console.js":    200,
		"/console/assets/console.css":   200,
		"/console/assets/":              404,
		"/console/assets/index.html":    404,
		"/console/assets/../console.go": 404,
		"/console/":                     404,
		"/console/api/nope":             404,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Code string `json:"error_code"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 404 && body.Code != "NOT_FOUND") {
			t.Errorf("GET %s = %d %q, want %d", path, resp.StatusCode, body.Code, want)
		}
	}
}

// The cache panel lists a user's entries and drops one; it refuses keys
// of other users and apps it does not serve, and serves the page.
func TestCacheEntriesAndThePage(t *testing.T) {
	_, srv, store := newConsole(t, 10)
	models := cache.NewModels("mail")
	summary := cache.Register[struct {
		N int `json:"n"`
	}](models, "summary")
	client, _ := store.Client("mail", "u1", models)
	if err := summary.Set(context.Background(), client, "k1", struct {
		N int `json:"n"`
	}{3}, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Entries []struct {
			Key        string `json:"key"`
			StorageKey string `json:"storage_key"`
		} `json:"entries"`
	}
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&listed)
		return resp.StatusCode
	}
	del := func(query string) int {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/console/api/cache?"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(srv.URL + "/console/api/cache?user_id=u1"); code != 200 || len(listed.Entries) != 1 || listed.Entries[0].Key != "k1" {
		t.Fatalf("%d %+v", code, listed)
	}
	key := listed.Entries[0].StorageKey
	for _, bad := range []string{"user_id=u2&app_id=mail&storage_key=" + key, "user_id=u1&app_id=other&storage_key=" + key} {
		if code := del(bad); code != http.StatusBadRequest {
			t.Fatalf("DELETE %s = %d", bad, code)
		}
	}
	if code := del("user_id=u1&app_id=mail&storage_key=" + key); code != 200 {
		t.Fatalf("DELETE = %d", code)
	}
	if get(srv.URL + "/console/api/cache?user_id=u1"); len(listed.Entries) != 0 {
		t.Fatalf("after delete: %+v", listed)
	}
	if code := get(srv.URL + "/console/api/cache"); code != http.StatusBadRequest {
		t.Fatalf("no user: %d", code)
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
