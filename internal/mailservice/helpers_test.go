package mailservice

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// do sends one request to h in-process, with header, and returns the
// recorded answer.
func do(t *testing.T, h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for name, values := range header {
		req.Header[name] = values
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// getJSON GETs target, fails the test on anything but 200, and decodes the
// answer into v; it returns the raw answer.
func getJSON(t *testing.T, h http.Handler, target string, v any) []byte {
	t.Helper()
	status, body := call(t, h, http.MethodGet, target, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", target, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode: %v", target, err)
	}
	return body
}

// postJSON POSTs the JSON of body to path, fails the test on anything but
// 200, and decodes the answer into v; it returns the recorded answer.
func postJSON(t *testing.T, h http.Handler, path string, body, v any, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	rec := do(t, h, http.MethodPost, path, mustJSON(t, body), header)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: status %d, body %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("POST %s: decode: %v", path, err)
	}
	return rec
}

// mustJSON returns v as JSON, v itself when it is a string.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// idsURL is path with user_id, account_id and extra as its query.
func idsURL(path, user, account string, extra url.Values) string {
	q := url.Values{"user_id": {user}, "account_id": {account}}
	for k, v := range extra {
		q[k] = v
	}
	return path + "?" + q.Encode()
}

// mailboxSize is the number of messages of a mailbox, as search counts
// them.
func mailboxSize(t *testing.T, h http.Handler, user, account string) int {
	t.Helper()
	return getSearch(t, h, user, account, "", "&limit=1").Total
}

// messageID is the id of the n-th message of a mailbox (1-based).
func messageID(n int) string { return fmt.Sprintf("m-%04d", n) }

// deliverBody is a _deliver body of n messages with distinct subjects
// into folder ("" for the default).
func deliverBody(user, account, folder string, n int) map[string]any {
	messages := make([]map[string]any, n)
	for i := range messages {
		messages[i] = map[string]any{"from": "Tester <tester@example.org>", "subject": fmt.Sprintf("delivered %d", i+1), "snippet": "hello"}
	}
	body := map[string]any{"user_id": user, "account_id": account, "messages": messages}
	if folder != "" {
		body["folder"] = folder
	}
	return body
}

// deliverN delivers n messages and returns their ids.
func deliverN(t *testing.T, h http.Handler, user, account, folder string, n int) []string {
	t.Helper()
	var resp deliverResponse
	postJSON(t, h, "/v1/_deliver", deliverBody(user, account, folder, n), &resp, nil)
	if len(resp.Delivered) != n {
		t.Fatalf("delivered %v, want %d ids", resp.Delivered, n)
	}
	return resp.Delivered
}

// assertNoEcho fails the test when body contains secret.
func assertNoEcho(t *testing.T, body []byte, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(string(body), secret) {
		t.Errorf("answer %s echoes %q", body, secret)
	}
}
