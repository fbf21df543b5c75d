package hosttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
)

// RecordEnv names the environment variable that makes Cassette record:
// HOSTTEST_RECORD=1 go test ./... records afresh from the real services.
const RecordEnv = "HOSTTEST_RECORD"

// cassette is a file of recorded exchanges, in the order they happened.
type cassette struct {
	Interactions []interaction `json:"interactions"`
}

type interaction struct {
	Request  recordedRequest  `json:"request"`
	Response recordedResponse `json:"response"`
}

type recordedRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Query is canonical: keys sorted, as url.Values.Encode writes it.
	Query string `json:"query,omitempty"`
	payload
}

type recordedResponse struct {
	Status int `json:"status"`
	// Header holds the answer's headers but those of the connection and
	// the moment (Date, Content-Length, ...).
	Header http.Header `json:"header,omitempty"`
	payload
}

// payload is a body: UTF-8 text as it is, any other bytes in base64, so
// that replay gives back the very bytes recorded.
type payload struct {
	Body       string `json:"body,omitempty"`
	BodyBase64 string `json:"body_base64,omitempty"`
}

func payloadOf(b []byte) payload {
	if utf8.Valid(b) {
		return payload{Body: string(b)}
	}
	return payload{BodyBase64: base64.StdEncoding.EncodeToString(b)}
}

func (p payload) bytes() ([]byte, error) {
	if p.BodyBase64 != "" {
		return base64.StdEncoding.DecodeString(p.BodyBase64)
	}
	return []byte(p.Body), nil
}

// volatileHeaders are not recorded: they describe the connection or the
// moment, not the answer.
var volatileHeaders = []string{"Date", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding"}

func matchKey(method, path, query string, body []byte) string {
	return method + " " + path + "?" + query + "\n" + string(body)
}

// Record returns a stub that forwards every request to the real service at
// baseURL and answers what it answered, and writes the exchanges to file
// when t ends, for Replay.
func Record(t TB, file, baseURL string) http.Handler {
	t.Helper()
	rec := &recorder{base: strings.TrimSuffix(baseURL, "/")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hosttest: not writing %s: the test failed", file)
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		// Indented, and with "<" and "&" as they are: the file is read in review.
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err := enc.Encode(rec.cassette)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(file), 0o755)
		}
		if err == nil {
			err = os.WriteFile(file, out.Bytes(), 0o644)
		}
		if err != nil {
			t.Errorf("hosttest: record %s: %v", file, err)
		}
	})
	return rec
}

type recorder struct {
	base     string
	mu       sync.Mutex
	cassette cassette
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	query := r.URL.Query().Encode()
	target := rec.base + r.URL.Path
	if query != "" {
		target += "?" + query
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	header := resp.Header.Clone()
	for _, h := range volatileHeaders {
		header.Del(h)
	}
	rec.mu.Lock()
	rec.cassette.Interactions = append(rec.cassette.Interactions, interaction{
		Request:  recordedRequest{Method: r.Method, Path: r.URL.Path, Query: query, payload: payloadOf(body)},
		Response: recordedResponse{Status: resp.StatusCode, Header: header, payload: payloadOf(answer)},
	})
	rec.mu.Unlock()
	writeRecorded(w, header, resp.StatusCode, answer)
}

// Replay returns a stub that answers from file, written by Record: each
// request gets the answer recorded for the same method, path, query and
// body, byte for byte; repeated requests get the recorded answers in turn,
// then the last one again. A request the file does not hold fails t.
func Replay(t TB, file string) http.Handler {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("hosttest: replay: %v (record it with %s=1)", err, RecordEnv)
	}
	var c cassette
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("hosttest: replay %s: %v", file, err)
	}
	rp := &replayer{t: t, file: file, answers: make(map[string][]recordedResponse), served: make(map[string]int)}
	for _, in := range c.Interactions {
		body, err := in.Request.bytes()
		if err != nil {
			t.Fatalf("hosttest: replay %s: %v", file, err)
		}
		key := matchKey(in.Request.Method, in.Request.Path, in.Request.Query, body)
		rp.answers[key] = append(rp.answers[key], in.Response)
	}
	return rp
}

type replayer struct {
	t       TB
	file    string
	answers map[string][]recordedResponse
	mu      sync.Mutex
	served  map[string]int
}

func (rp *replayer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := matchKey(r.Method, r.URL.Path, r.URL.Query().Encode(), body)
	rp.mu.Lock()
	answers := rp.answers[key]
	n := rp.served[key]
	rp.served[key]++
	rp.mu.Unlock()
	if len(answers) == 0 {
		msg := fmt.Sprintf("hosttest: replay %s: nothing recorded for %s %s", rp.file, r.Method, r.URL.RequestURI())
		rp.t.Errorf("%s", msg)
		writeRecorded(w, http.Header{"Content-Type": {"application/json"}}, http.StatusNotFound, fmt.Appendf(nil, `{"error": %q}`, msg))
		return
	}
	answer := answers[min(n, len(answers)-1)]
	recorded, err := answer.bytes()
	if err != nil {
		rp.t.Errorf("hosttest: replay %s: %v", rp.file, err)
	}
	writeRecorded(w, answer.Header, answer.Status, recorded)
}

func writeRecorded(w http.ResponseWriter, header http.Header, status int, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Cassette is Record when the environment sets HOSTTEST_RECORD, and Replay
// otherwise: tests record from the real service at baseURL once, then run
// from file, without it.
func Cassette(t TB, file, baseURL string) http.Handler {
	t.Helper()
	if os.Getenv(RecordEnv) != "" {
		return Record(t, file, baseURL)
	}
	return Replay(t, file)
}
