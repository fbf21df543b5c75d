package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/metrics"
	"github.com/imperalcloud/exthost/internal/server"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

const (
	hxInjApp     = "inj-app"
	hxInjModel   = "profile"
	hxInjKey     = "profile:main" // a fixed, safe cache key: only the user varies
	hxInjService = "profile-svc"
)

// hxInjectionStrings are user ids and parameters that try to leave their
// place: path traversal, glob and hash-tag characters, header splitting,
// NULs, escapes that decode to separators, query and fragment delimiters,
// spaces and non-ASCII.
var hxInjectionStrings = []string{
	"u-1", "../", "../../etc/passwd", "..", ".", "*", "{", "}", "{u}", "a}:evil:{b", "}{", "\r\n",
	"a\r\nX-Injected: 1", "\x00", "a\x00b", "%2F", "..%2F..%2Fadmin", "%2e%2e", "%", "%00", "a b", " ",
	"日本語", "Zoë", "?x=1&user_id=evil", "a&user_id=evil", "#frag", "a+b", "a;b", "\\..\\", "[a]", "?",
	"\t", "\x7f", "\u2028", "a/b", "/", "//evil.example/x",
}

// hxInjProfile is the cached model: what the upstream echoed.
type hxInjProfile struct {
	User  string `json:"user"`
	Query string `json:"query"`
}

type hxInjLookupParams struct {
	Query string `json:"query" jsonschema:"required"`
}

type hxInjItemParams struct {
	Item    string `json:"item" jsonschema:"required"`
	Escaped bool   `json:"escaped"`
}

// hxUpstreamRequest is what the upstream saw of one request.
type hxUpstreamRequest struct {
	method, path, rawPath, escapedPath, requestURI, rawQuery string
	query                                                    url.Values
	header                                                   http.Header
	body                                                     []byte
}

// hxUnescapeID reverses cache.EscapeID's %XX escapes.
func hxUnescapeID(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}

// TestInjection sends hostile user ids and parameters to a function that
// caches under a fixed key and calls an upstream with the user in the query
// and a parameter in the JSON body, and to one that puts a parameter in the
// upstream path. Nothing may leave its place: the upstream path is exactly
// the one the function names, the query and body values round-trip exactly
// and are escaped on the wire, and the cache key keeps the user inside one
// hash tag.
func TestInjection(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []hxUpstreamRequest
	)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, hxUpstreamRequest{method: r.Method, path: r.URL.Path, rawPath: r.URL.RawPath,
			escapedPath: r.URL.EscapedPath(), requestURI: r.RequestURI, rawQuery: r.URL.RawQuery,
			query: r.URL.Query(), header: r.Header.Clone(), body: body})
		mu.Unlock()
		var in struct {
			Query string `json:"query"`
		}
		_ = json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hxInjProfile{User: r.URL.Query().Get("user_id"), Query: in.Query})
	}))
	t.Cleanup(upstream.Close)
	takeSeen := func() []hxUpstreamRequest {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}

	ext, tool := testkit.NewApp(hxInjApp, "An extension for the injection tests.")
	profiles := runtime.CacheModel[hxInjProfile](ext, hxInjModel)
	runtime.AddFunction(tool, runtime.Function[hxInjLookupParams, hxInjProfile]{
		Name: "lookup", Description: "Looks the user's profile up, cached.",
		Handler: func(c *ctx.Call, p hxInjLookupParams) (runtime.Result, error) {
			prof, err := profiles.GetOrFetch(c, hxInjKey, time.Minute, func(f *ctx.Call) (hxInjProfile, error) {
				resp, err := f.HTTP().Post(f, "http://"+hxInjService+"/v1/lookup",
					httpclient.Params{"user_id": f.UserID()}, httpclient.JSON(map[string]string{"query": p.Query}))
				if err != nil {
					return hxInjProfile{}, err
				}
				var out hxInjProfile
				return out, resp.Decode(&out)
			})
			if err != nil {
				return runtime.Result{}, err
			}
			return runtime.Success(prof, "found"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[hxInjItemParams, hxInjProfile]{
		Name: "item", Description: "Reads an item named by a parameter in the upstream path.",
		Handler: func(c *ctx.Call, p hxInjItemParams) (runtime.Result, error) {
			seg := p.Item
			if p.Escaped {
				seg = url.PathEscape(p.Item)
			}
			resp, err := c.HTTP().Get(c, "http://"+hxInjService+"/v1/items/"+seg)
			if err != nil {
				return runtime.Result{}, err
			}
			var out hxInjProfile
			if err := resp.Decode(&out); err != nil {
				return runtime.Result{}, err
			}
			return runtime.Success(out, "item"), nil
		},
	})

	mem, err := cache.NewMemory(cache.MemoryOptions{MaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	backend, recorder := testkit.Record(mem)
	store := cache.NewStore(backend, cache.Options{})
	t.Cleanup(func() { _ = store.Close() })
	hc, err := httpclient.New(httpclient.Config{Services: map[string]string{hxInjService: upstream.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext}, Cache: store, HTTP: hc,
		CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Dispatcher: d, Logger: zap.NewNop(), Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	host := httptest.NewServer(srv.Handler())
	t.Cleanup(host.Close)

	call := func(t *testing.T, user, function string, params any) (int, map[string]any) {
		t.Helper()
		body, err := json.Marshal(map[string]any{"user_id": user, "function": function, "params": params})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(host.URL+"/v1/extensions/"+hxInjApp+"/call", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if err := hxCheckAnswer(resp.StatusCode, resp.Header, raw, false); err != nil {
			t.Fatalf("answer %d %s: %v", resp.StatusCode, raw, err)
		}
		var res map[string]any
		_ = json.Unmarshal(raw, &res)
		return resp.StatusCode, res
	}

	keys := map[string]string{} // storage key -> user
	for _, s := range hxInjectionStrings {
		t.Run("lookup "+strconv.Quote(s), func(t *testing.T) {
			status, res := call(t, s, "lookup", map[string]string{"query": s})
			if status != 200 || res["status"] != "success" {
				t.Fatalf("call = %d %v", status, res)
			}
			reqs := takeSeen()
			if len(reqs) != 1 {
				t.Fatalf("%d upstream requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/v1/lookup" || r.rawPath != "" ||
				!strings.HasPrefix(r.requestURI, "/v1/lookup?") {
				t.Errorf("upstream request %s %q (raw %q, URI %q), want POST /v1/lookup", r.method, r.path, r.rawPath, r.requestURI)
			}
			if got := r.query["user_id"]; len(got) != 1 || got[0] != s || len(r.query) != 1 {
				t.Errorf("upstream query %q parses as %v, want exactly user_id=%q", r.rawQuery, r.query, s)
			}
			if strings.ContainsAny(r.rawQuery, "{} \r\n\t\x00#") {
				t.Errorf("raw query %q carries unescaped characters", r.rawQuery)
			}
			if r.header.Get("X-Injected") != "" {
				t.Errorf("a header was injected: %v", r.header)
			}
			var body map[string]string
			if err := json.Unmarshal(r.body, &body); err != nil || len(body) != 1 || body["query"] != s {
				t.Errorf("upstream body %q, want {\"query\": %q}", r.body, s)
			}
			if data, _ := res["data"].(map[string]any); data["user"] != s || data["query"] != s {
				t.Errorf("data = %v, want the user and query echoed", res["data"])
			}

			// The entry lives under one hash tag that names exactly this user.
			want := cache.StorageKey(hxInjApp, s, hxInjModel, hxInjKey)
			written := recorder.Written()
			if !slices.Contains(written, want) {
				t.Fatalf("key %q not written; written: %q", want, written)
			}
			if strings.Count(want, "{") != 1 || strings.Count(want, "}") != 1 {
				t.Errorf("key %q has more than one hash tag brace", want)
			}
			if strings.IndexFunc(want, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
				t.Errorf("key %q carries spaces, control or non-ASCII characters", want)
			}
			open, end := strings.IndexByte(want, '{'), strings.IndexByte(want, '}')
			if tag, ok := hxUnescapeID(want[open+1 : end]); !ok || tag != hxInjApp+":"+s {
				t.Errorf("hash tag of %q unescapes to %q, want %q", want, tag, hxInjApp+":"+s)
			}
			if rest := want[end+1:]; !strings.HasPrefix(rest, ":"+hxInjModel+":") || strings.Count(rest, ":") != 2 {
				t.Errorf("key %q: after the tag %q, want :%s:<hash>", want, rest, hxInjModel)
			}
			if other, dup := keys[want]; dup {
				t.Errorf("users %q and %q share the key %q", other, s, want)
			}
			keys[want] = s
			if _, ok, _ := mem.GetValue(context.Background(), want); !ok {
				t.Errorf("key %q is not in the memory backend", want)
			}

			// The same user's next call is served from that entry.
			if status, again := call(t, s, "lookup", map[string]string{"query": "other"}); status != 200 ||
				again["data"].(map[string]any)["query"] != s {
				t.Errorf("second call = %d %v, want the cached entry", status, again)
			}
			if reqs := takeSeen(); len(reqs) != 0 {
				t.Errorf("second call sent %d upstream requests, want a cache hit", len(reqs))
			}
		})
	}

	for _, s := range hxInjectionStrings {
		t.Run("item "+strconv.Quote(s), func(t *testing.T) {
			// Escaped by the extension: the parameter is exactly one segment.
			// One that is, or decodes to something holding, a "." or ".."
			// element is refused before any request: an upstream that decodes
			// before it normalises would climb with it.
			status, res := call(t, "u-1", "item", map[string]any{"item": s, "escaped": true})
			reqs := takeSeen()
			if hasDotElement(s) {
				if status != 200 || res["status"] != "error" || len(reqs) != 0 {
					t.Fatalf("escaped dot segment: %d %v, %d upstream requests; want refused", status, res, len(reqs))
				}
			} else if status != 200 || res["status"] != "success" || len(reqs) != 1 {
				t.Fatalf("escaped item: %d %v, %d upstream requests", status, res, len(reqs))
			}
			if len(reqs) == 1 {
				if r := reqs[0]; r.path != "/v1/items/"+s || r.escapedPath != "/v1/items/"+url.PathEscape(s) ||
					r.requestURI != "/v1/items/"+url.PathEscape(s) {
					t.Errorf("escaped item %q reached %q (escaped %q, URI %q)", s, r.path, r.escapedPath, r.requestURI)
				}
			}

			// Concatenated as is: either refused before any request, or sent
			// with no dot segment on the wire, under /v1/items/.
			status, res = call(t, "u-1", "item", map[string]any{"item": s})
			if status != 200 {
				t.Fatalf("raw item: %d %v", status, res)
			}
			for _, r := range takeSeen() {
				wirePath, _, _ := strings.Cut(r.requestURI, "?")
				if !strings.HasPrefix(wirePath, "/v1/items/") {
					t.Errorf("raw item %q reached %q", s, r.requestURI)
				}
				for _, seg := range strings.Split(wirePath, "/") {
					if dec, err := url.PathUnescape(seg); err != nil || dec == "." || dec == ".." {
						t.Errorf("raw item %q sent the dot segment %q: %q", s, seg, r.requestURI)
					}
				}
			}
		})
	}

	// A parameter concatenated as is into the path can still name a parent
	// once the upstream percent-decodes its path: the dot-segment check
	// looks at each raw segment, and "..%2F..%2Fadmin" is one segment that
	// decodes to "../../admin" (Go's r.URL.Path, nginx's $uri, and servers
	// that take '\' for '/' then climb out of /v1/items/).
	t.Run("raw parameter stays under its base once decoded", func(t *testing.T) {
		for _, s := range []string{"..%2F..%2Fadmin", "%2E%2E%2F%2E%2E%2Fadmin", "..%5C..%5Cadmin", "\\..\\..\\admin"} {
			status, res := call(t, "u-1", "item", map[string]any{"item": s})
			for _, r := range takeSeen() {
				decoded := path.Clean(strings.ReplaceAll(r.path, "\\", "/"))
				if !strings.HasPrefix(decoded, "/v1/items/") {
					t.Errorf("item %q: sent %q, which decodes to %q (answer %d %v)", s, r.requestURI, decoded, status, res)
				}
			}
		}
	})
}

// hasDotElement reports whether s, split at '/' and '\', has a "." or ".."
// element.
func hasDotElement(s string) bool {
	for _, elem := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' }) {
		if elem == "." || elem == ".." {
			return true
		}
	}
	return s == "." || s == ".."
}
