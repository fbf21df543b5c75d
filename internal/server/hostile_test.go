package server_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// hxCase is one hostile request.
type hxCase struct {
	name    string
	method  string // default POST
	path    string // default the call endpoint
	body    []byte
	ctype   string // default application/json; "-" sends none
	chunked bool   // send the body without a Content-Length
	big     bool   // send to the host with the 1 MiB limit rather than 64 KiB
}

const (
	hxCallPath  = "/v1/extensions/" + hxApp + "/call"
	hxBatchPath = "/v1/extensions/" + hxApp + "/batch"
	hxSmallBody = 64 << 10
)

// hxValidBodies are well-formed bodies whose every prefix is sent.
var hxValidBodies = []struct{ path, body string }{
	{hxCallPath, `{"user_id":"u-1","tenant_id":"t-1","function":"echo","params":{"name":"Ann","count":2,"small":-1,"loud":true,"tags":["a","b"],"inner":{"level":1}},"email":"a@example.com","role":"admin","scopes":["mail:read"]}`},
	{hxCallPath, `{"user_id":"Zoë-日本","function":"echo","params":{"name":"\u00e9\ud83d\ude00 ok"}}`},
	{hxBatchPath, `{"user_id":"u-1","tenant_id":"t-1","calls":[{"function":"echo","params":{"name":"one","tags":["x"]}},{"function":"fails"},{"function":"write","params":null}]}`},
}

// hxHostileCases returns the several hundred requests of TestHostileBodies.
func hxHostileCases() []hxCase {
	var cases []hxCase
	add := func(name, path, body string) {
		cases = append(cases, hxCase{name: name, path: path, body: []byte(body)})
	}
	call := func(name, body string) { add(name, hxCallPath, body) }
	batch := func(name, body string) { add(name, hxBatchPath, body) }

	// Every prefix of valid bodies, cutting inside keys, strings, runes and
	// escapes.
	for i, v := range hxValidBodies {
		for n := range len(v.body) {
			add(fmt.Sprintf("valid %d truncated to %d", i, n), v.path, v.body[:n])
		}
		add(fmt.Sprintf("valid %d", i), v.path, v.body)
	}

	// Deep nesting, at the top level and inside params, closed and not.
	for _, depth := range []int{64, 9_990, 10_001, 100_000} {
		arr := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		obj := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		for kind, nest := range map[string]string{"arrays": arr, "objects": obj, "unclosed": strings.Repeat("[", depth)} {
			for where, body := range map[string]string{
				"top level":            nest,
				"params":               `{"user_id":"u-1","function":"echo","params":` + nest + `}`,
				"unknown param":        `{"user_id":"u-1","function":"echo","params":{"name":"a","deep":` + nest + `}}`,
				"typed param":          `{"user_id":"u-1","function":"echo","params":{"name":` + nest + `}}`,
				"tags":                 `{"user_id":"u-1","function":"echo","params":{"name":"a","tags":` + nest + `}}`,
				"unknown envelope key": `{"deep":` + nest + `,"user_id":"u-1","function":"echo"}`,
				"batch calls":          `{"user_id":"u-1","calls":` + nest + `}`,
				"batch params":         `{"user_id":"u-1","calls":[{"function":"echo","params":{"name":"a","deep":` + nest + `}}]}`,
			} {
				path := hxCallPath
				if strings.HasPrefix(where, "batch") {
					path = hxBatchPath
				}
				cases = append(cases, hxCase{name: fmt.Sprintf("%s nested %d deep in %s", kind, depth, where),
					path: path, body: []byte(body), big: true})
			}
		}
	}

	// Invalid UTF-8, NUL bytes and lone surrogates in every string field.
	hostile := map[string]string{
		"invalid utf-8":        "\xff\xfe\xfd",
		"truncated rune":       "ab\xe6\x97",
		"overlong slash":       "\xc0\xaf",
		"encoded surrogate":    "\xed\xa0\x80",
		"raw NUL":              "a\x00b",
		"raw control chars":    "a\x01\x1f\x7f",
		"escaped NUL":          `a\u0000b`,
		"lone high surrogate":  `\ud800`,
		"lone low surrogate":   `\udc00x`,
		"reversed pair":        `\udc00\ud800`,
		"high then ascii":      `\ud800\u0041`,
		"bad escape":           `\x41`,
		"short unicode escape": `\u12`,
		"escaped quote":        `\"},"function":"panics`,
	}
	templates := map[string]struct{ path, tmpl string }{
		"user_id":         {hxCallPath, `{"user_id":"%s","function":"echo","params":{"name":"a"}}`},
		"tenant_id":       {hxCallPath, `{"user_id":"u-1","tenant_id":"%s","function":"echo","params":{"name":"a"}}`},
		"function":        {hxCallPath, `{"user_id":"u-1","function":"%s"}`},
		"email":           {hxCallPath, `{"user_id":"u-1","email":"%s","function":"echo","params":{"name":"a"}}`},
		"role":            {hxCallPath, `{"user_id":"u-1","role":"%s","function":"echo","params":{"name":"a"}}`},
		"scopes":          {hxCallPath, `{"user_id":"u-1","scopes":["%s"],"function":"echo","params":{"name":"a"}}`},
		"params.name":     {hxCallPath, `{"user_id":"u-1","function":"echo","params":{"name":"%s"}}`},
		"params.tags":     {hxCallPath, `{"user_id":"u-1","function":"echo","params":{"name":"a","tags":["%s"]}}`},
		"params key":      {hxCallPath, `{"user_id":"u-1","function":"echo","params":{"name":"a","%s":1}}`},
		"envelope key":    {hxCallPath, `{"user_id":"u-1","%s":1,"function":"echo","params":{"name":"a"}}`},
		"batch user_id":   {hxBatchPath, `{"user_id":"%s","calls":[{"function":"echo","params":{"name":"a"}}]}`},
		"batch function":  {hxBatchPath, `{"user_id":"u-1","calls":[{"function":"%s"}]}`},
		"batch param":     {hxBatchPath, `{"user_id":"u-1","calls":[{"function":"echo","params":{"name":"%s"}}]}`},
		"batch param key": {hxBatchPath, `{"user_id":"u-1","calls":[{"function":"echo","params":{"name":"a","%s":[]}}]}`},
	}
	for field, tpl := range templates {
		for what, s := range hostile {
			add(fmt.Sprintf("%s with %s", what, field), tpl.path, fmt.Sprintf(tpl.tmpl, s))
		}
	}

	// Odd numbers in number fields, string fields and the envelope.
	numbers := []string{"1e999", "-1e999", "1e-999", "-0", "-0.0", "0.0", "1.5", "1E2", "123456789012345678901234567890",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "128", "-129", "1e999999", "1e1000000",
		"0x10", "01", "+1", ".5", "1.", "NaN", "Infinity", "-", "1e", "--1"}
	for _, n := range numbers {
		call("number "+n+" in count", `{"user_id":"u-1","function":"echo","params":{"name":"a","count":`+n+`}}`)
		call("number "+n+" in small", `{"user_id":"u-1","function":"echo","params":{"name":"a","small":`+n+`}}`)
		call("number "+n+" in inner.level", `{"user_id":"u-1","function":"echo","params":{"name":"a","inner":{"level":`+n+`}}}`)
		call("number "+n+" as user_id", `{"user_id":`+n+`,"function":"echo"}`)
		batch("number "+n+" in a batch", `{"user_id":"u-1","calls":[{"function":"echo","params":{"name":"a","count":`+n+`}}]}`)
	}

	// Duplicate keys.
	call("duplicate user_id", `{"user_id":"a","user_id":"b","function":"echo","params":{"name":"a"}}`)
	call("duplicate user_id, second empty", `{"user_id":"a","user_id":"","function":"echo","params":{"name":"a"}}`)
	call("duplicate function", `{"user_id":"u-1","function":"echo","function":"panics"}`)
	call("duplicate params", `{"user_id":"u-1","function":"echo","params":{"name":"a"},"params":[1]}`)
	call("duplicate param, wrong type first", `{"user_id":"u-1","function":"echo","params":{"name":5,"name":"a"}}`)
	call("duplicate param, wrong type last", `{"user_id":"u-1","function":"echo","params":{"name":"a","name":5}}`)
	call("param differing in case", `{"user_id":"u-1","function":"echo","params":{"name":"a","NAME":5,"Count":"x"}}`)
	call("envelope key differing in case", `{"USER_ID":"u-1","Function":"echo","params":{"name":"a"}}`)
	batch("duplicate calls", `{"user_id":"u-1","calls":[{"function":"echo"}],"calls":[]}`)
	batch("duplicate call function", `{"user_id":"u-1","calls":[{"function":"echo","function":""}]}`)

	// Wrong types for each envelope field.
	wrong := []string{"1", "true", "null", "[]", "{}", `"x"`, "1.5", `[1]`, `{"a":1}`}
	for _, field := range []string{"user_id", "tenant_id", "function", "params", "email", "role", "scopes"} {
		for _, v := range wrong {
			env := map[string]string{"user_id": `"u-1"`, "function": `"echo"`, "params": `{"name":"a"}`}
			env[field] = v
			var b strings.Builder
			b.WriteString("{")
			first := true
			for _, k := range []string{"user_id", "tenant_id", "function", "params", "email", "role", "scopes"} {
				if val, ok := env[k]; ok {
					if !first {
						b.WriteString(",")
					}
					first = false
					fmt.Fprintf(&b, "%q:%s", k, val)
				}
			}
			b.WriteString("}")
			call(fmt.Sprintf("%s = %s", field, v), b.String())
		}
	}
	for _, v := range wrong {
		batch("calls = "+v, `{"user_id":"u-1","calls":`+v+`}`)
		batch("calls[0] = "+v, `{"user_id":"u-1","calls":[`+v+`]}`)
		batch("calls[0].function = "+v, `{"user_id":"u-1","calls":[{"function":`+v+`}]}`)
		batch("calls[0].params = "+v, `{"user_id":"u-1","calls":[{"function":"echo","params":`+v+`}]}`)
		batch("batch user_id = "+v, `{"user_id":`+v+`,"calls":[{"function":"echo"}]}`)
	}

	// Bodies around the size limit, with and without a Content-Length.
	prefix, suffix := `{"user_id":"u-1","function":"echo","params":{"name":"`, `"}}`
	for _, size := range []int{hxSmallBody - 1, hxSmallBody, hxSmallBody + 1, 2 * hxSmallBody} {
		body := prefix + strings.Repeat("x", size-len(prefix)-len(suffix)) + suffix
		call(fmt.Sprintf("body of %d bytes", size), body)
		cases = append(cases, hxCase{name: fmt.Sprintf("chunked body of %d bytes", size), body: []byte(body), chunked: true})
	}
	call("user_id of 256 bytes", `{"user_id":"`+strings.Repeat("u", 256)+`","function":"echo","params":{"name":"a"}}`)
	call("user_id of 257 bytes", `{"user_id":"`+strings.Repeat("u", 257)+`","function":"echo","params":{"name":"a"}}`)
	call("user_id of 128 escapes", `{"user_id":"`+strings.Repeat(`\u00e9`, 128)+`","function":"echo","params":{"name":"a"}}`)
	batch("17 calls", `{"user_id":"u-1","calls":[`+strings.Repeat(`{"function":"empty"},`, 16)+`{"function":"empty"}]}`)
	batch("1000 calls", `{"user_id":"u-1","calls":[`+strings.Repeat(`{"function":"empty"},`, 999)+`{"function":"empty"}]}`)
	batch("16 calls", `{"user_id":"u-1","calls":[`+strings.Repeat(`{"function":"panics"},`, 15)+`{"function":"echo"}]}`)

	// Odd top levels.
	for _, body := range []string{"", " ", " \t\r\n ", "\x00", "[]", `[{"user_id":"u-1","function":"echo"}]`, `"x"`, "null",
		"1", "true", "{}", "{", "}", `{"user_id":"u-1","function":"echo","params":{"name":"a"}}garbage`,
		`{"user_id":"u-1","function":"echo","params":{"name":"a"}}{}`, `{"user_id":"u-1","function":"echo","params":{"name":"a"}}  ` + "\n",
		"\xef\xbb\xbf" + `{"user_id":"u-1","function":"echo","params":{"name":"a"}}`, `{"user_id":"u-1",}`, `{'user_id':'u-1'}`,
		`{"user_id":"u-1","function":"echo","params":{"name":"a"}` + "\x00}"} {
		call(fmt.Sprintf("top level %q", body), body)
		batch(fmt.Sprintf("batch top level %q", body), body)
	}

	// Random bytes, and random mutations of valid bodies, from a fixed seed.
	rng := rand.New(rand.NewPCG(0x5eed, 3))
	for i := range 150 {
		b := make([]byte, rng.IntN(2048))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		path := hxCallPath
		if i%2 == 1 {
			path = hxBatchPath
		}
		add(fmt.Sprintf("random bytes %d", i), path, string(b))
	}
	for i := range 150 {
		v := hxValidBodies[i%len(hxValidBodies)]
		b := []byte(v.body)
		for range 1 + rng.IntN(4) {
			switch p := rng.IntN(len(b)); rng.IntN(3) {
			case 0:
				b[p] = byte(rng.Uint32())
			case 1:
				b = append(b[:p], b[p+1:]...)
			default:
				const insert = "{}[]\",:\\0e-"
				b = append(b[:p], append([]byte{insert[rng.IntN(len(insert))]}, b[p:]...)...)
			}
		}
		add(fmt.Sprintf("mutated valid %d #%d", i%len(hxValidBodies), i), v.path, string(b))
	}

	// Content types.
	valid := `{"user_id":"u-1","function":"echo","params":{"name":"a"}}`
	for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/json; charset=utf-16", "application/xml", "*/*", "application/json, text/plain"} {
		cases = append(cases, hxCase{name: "content type " + ct, body: []byte(valid), ctype: ct})
	}
	cases = append(cases, hxCase{name: "form body", body: []byte("user_id=u-1&function=echo"), ctype: "application/x-www-form-urlencoded"})

	// Odd methods and paths.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodHead, "PROPFIND", "FOO"} {
		for _, p := range []string{hxCallPath, hxBatchPath} {
			cases = append(cases, hxCase{name: m + " " + p, method: m, path: p, body: []byte(valid)})
		}
	}
	longApp := strings.Repeat("a", 8<<10)
	for _, p := range []string{
		"/v1/extensions/../call", "/v1/extensions/%2e%2e/call", "/v1/extensions/%00/call", "/v1/extensions/%ff%fe/call",
		"/v1/extensions/a%2Fb/call", "/v1/extensions//call", "/v1/extensions/" + hxApp + "/call/",
		"/v1/extensions/" + hxApp + "/call?x=1&user_id=evil", "/v1/extensions/" + hxApp + "/CALL",
		"/v1/extensions/" + hxApp + "/../" + hxApp + "/call", "/v1/extensions/" + hxApp + "%2Fcall",
		"/v1/extensions/%7B%7D*/call", "/v1/extensions/" + longApp + "/call", "/v1/extensions/" + longApp + "/batch",
		"/v1/extensions/" + strings.Repeat("%41", 20<<10) + "/call", "/v1/extensions/" + hxApp + "/manifest",
		"/v1/extensions/x/y/z/call", "/", "//", "/v1", "/healthz/../v1/extensions/" + hxApp + "/call",
	} {
		cases = append(cases, hxCase{name: "path " + p, path: p, body: []byte(valid)})
	}
	return cases
}

// TestHostileBodies throws several hundred malformed requests at a running
// host over real HTTP: none may get a 5xx or a connection error, every answer
// is an ActionResult (or the batch shape on 200), and the host stays healthy.
func TestHostileBodies(t *testing.T) {
	small := httptest.NewServer(hxNewHost(t, hxSmallBody))
	t.Cleanup(small.Close)
	big := httptest.NewServer(hxNewHost(t, 1<<20))
	t.Cleanup(big.Close)
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(req *http.Request) (int, []byte, error) {
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}

	cases := hxHostileCases()
	if len(cases) < 500 {
		t.Fatalf("only %d cases", len(cases))
	}
	statuses := map[int]int{}
	start := time.Now()
	for _, tc := range cases {
		base := small.URL
		if tc.big {
			base = big.URL
		}
		method, path := tc.method, tc.path
		if method == "" {
			method = http.MethodPost
		}
		if path == "" {
			path = hxCallPath
		}
		var body io.Reader = bytes.NewReader(tc.body)
		if tc.chunked {
			body = io.MultiReader(bytes.NewReader(tc.body)) // no Len: sent chunked
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch tc.ctype {
		case "":
			req.Header.Set("Content-Type", "application/json")
		case "-":
		default:
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: connection error: %v", tc.name, err)
			continue
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Errorf("%s: reading the answer: %v", tc.name, err)
			continue
		}
		statuses[resp.StatusCode]++
		if method == http.MethodHead || method == http.MethodOptions {
			// No body to check (HEAD), or echo's automatic 204 answer to
			// OPTIONS: see TestOptionsOnCallIsMethodNotAllowed.
			if resp.StatusCode >= 500 {
				t.Errorf("%s: HTTP %d", tc.name, resp.StatusCode)
			}
			continue
		}
		isBatch := method == http.MethodPost && strings.HasSuffix(path, "/batch")
		if err := hxCheckAnswer(resp.StatusCode, resp.Header, got, isBatch); err != nil {
			t.Errorf("%s: %d %.300s: %v", tc.name, resp.StatusCode, got, err)
		}
	}
	for _, base := range []string{small.URL, big.URL} {
		if err := hxHealthy(do, base); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d hostile requests in %s; answers by status: %v", len(cases), time.Since(start).Round(time.Millisecond), statuses)
}

// TestOptionsOnCallIsMethodNotAllowed: the contract answers a wrong method
// with 405 METHOD_NOT_ALLOWED as an ActionResult, and says every body is
// JSON. echo's router answers OPTIONS on any registered route itself, with
// 204 No Content, an Allow header and no body, before the server's handlers
// or its error handler see the request.
func TestOptionsOnCallIsMethodNotAllowed(t *testing.T) {
	h := hxNewHost(t, hxSmallBody)
	for _, path := range []string{hxCallPath, hxBatchPath} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodOptions, path, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("OPTIONS %s = %d %q, want 405", path, rec.Code, rec.Body.String())
		}
		if err := hxCheckAnswer(rec.Code, rec.Header(), rec.Body.Bytes(), false); err != nil {
			t.Errorf("OPTIONS %s: %v", path, err)
		}
	}
}

// TestBatchOverConcurrencyLimit: a batch weighs as many concurrency slots as
// it has calls (up to 16). With limits.max_concurrent_calls below 16, a batch
// of more calls than the limit can never be admitted, yet it is answered 429
// RATE_LIMITED "retryable" on an idle host, so a well-behaved client retries
// it forever.
func TestBatchOverConcurrencyLimit(t *testing.T) {
	h := hxNewHostWithLimit(t, 2)
	body := `{"user_id":"u-1","calls":[{"function":"empty"},{"function":"empty"},{"function":"empty"}]}`
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, hxBatchPath, strings.NewReader(body)))
		if rec.Code == http.StatusTooManyRequests {
			t.Fatalf("idle host answered a 3-call batch %d %s with a concurrency limit of 2", rec.Code, rec.Body)
		}
	}
}
