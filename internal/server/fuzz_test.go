package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hxFuzzSeeds are meaningful bodies for FuzzCallBody, also committed (with
// a few more) under testdata/fuzz/FuzzCallBody.
var hxFuzzSeeds = []struct {
	batch bool
	body  string
}{
	{false, `{"user_id":"u-1","function":"echo","params":{"name":"Ann","count":2,"small":-3,"loud":true,"tags":["a","b"],"inner":{"level":1}}}`},
	{false, `{"user_id":"u-1","tenant_id":"t-1","function":"echo","params":{"name":"Ann"},"email":"a@example.com","role":"admin","scopes":["mail:read"]}`},
	{false, `{"user_id":"u-1","function":"echo","params":{}}`},
	{false, `{"user_id":"u-1","function":"echo","params":{"name":7,"count":"x","small":300,"inner":{}}}`},
	{false, `{"user_id":"u-1","function":"echo","params":{"name":"a","count":1e999}}`},
	{false, `{"user_id":"u-1","function":"echo","params":{"name":"a","name":5}}`},
	{false, `{"user_id":"u-1","function":"echo","params":{"name":"\ud800\u0000\"","NAME":1,"extra":[[[]]]}}`},
	{false, `{"user_id":"u-1","function":"echo","params":[1]}`},
	{false, `{"user_id":"u-1","function":"fails"}`},
	{false, `{"user_id":"u-1","function":"panics","params":null}`},
	{false, `{"user_id":"u-1","function":"write"}`},
	{false, `{"user_id":"u-1","function":"empty","params":{"x":1}}`},
	{false, `{"user_id":"u-1","function":"nope"}`},
	{false, `{"user_id":5,"function":"echo"}`},
	{false, `{"user_id":"u-1"} {}`},
	{false, `{"user_id":"` + strings.Repeat("u", 300) + `","function":"echo"}`},
	{false, `[[[[[[[[[[]]]]]]]]]]`},
	{false, ``},
	{false, `null`},
	{true, `{"user_id":"u-1","calls":[{"function":"echo","params":{"name":"one"}},{"function":"nope"},{"function":"fails"},{"function":"panics"}]}`},
	{true, `{"user_id":"u-1","calls":[]}`},
	{true, `{"user_id":"u-1","calls":[{"params":{}}]}`},
	{true, `{"user_id":"u-1","calls":[null,{"function":"write"}]}`},
	{true, `{"user_id":"u-1","calls":{"function":"echo"}}`},
	{true, `{"user_id":"u-1","calls":[{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"},{"function":"empty"}]}`},
}

// FuzzCallBody posts arbitrary bytes to the call endpoint (batch false) or
// the batch endpoint (batch true) of an in-process host with a 64 KiB body
// limit. Whatever the body, the answer is never a 5xx and is a JSON
// ActionResult (or {"results": [...]} for a batch answered 200), and the
// host still answers /healthz.
func FuzzCallBody(f *testing.F) {
	for _, s := range hxFuzzSeeds {
		f.Add(s.batch, []byte(s.body))
	}
	h := hxNewHost(f, 64<<10)
	serve := func(req *http.Request) (int, []byte, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes(), nil
	}
	f.Fuzz(func(t *testing.T, batch bool, body []byte) {
		path := "/v1/extensions/" + hxApp + "/call"
		if batch {
			path = "/v1/extensions/" + hxApp + "/batch"
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		got, _ := io.ReadAll(res.Body)
		if err := hxCheckAnswer(res.StatusCode, res.Header, got, batch); err != nil {
			t.Fatalf("POST %s %q\n=> %d %s\n%v", path, body, res.StatusCode, got, err)
		}
		if err := hxHealthy(serve, ""); err != nil {
			t.Fatal(err)
		}
	})
}
