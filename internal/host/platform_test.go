package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/runtime"
)

// heldMail is the reference mail-service whose batch endpoints, once
// held, wait until released, telling when a request arrives.
type heldMail struct {
	reference http.Handler
	arrived   chan struct{}
	mu        sync.Mutex
	release   chan struct{} // nil: not held
}

func newHeldMail() *heldMail {
	return &heldMail{reference: mailservice.New(mailservice.Options{}), arrived: make(chan struct{}, 16)}
}

func (m *heldMail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	release := m.release
	m.mu.Unlock()
	if release != nil && strings.HasPrefix(r.URL.Path, "/v1/messages/batch") {
		// The server notices a client going away only once the body is read.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		m.arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
	}
	m.reference.ServeHTTP(w, r)
}

// hold holds the batch requests from now on, until open.
func (m *heldMail) hold() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.release = make(chan struct{})
}

func (m *heldMail) open() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.release != nil {
		close(m.release)
		m.release = nil
	}
}

// task is GET /v1/tasks/{id}'s answer.
type task struct {
	TaskID   string `json:"task_id"`
	Function string `json:"function"`
	Status   string `json:"status"`
	Progress struct {
		Percent float64 `json:"percent"`
		Message string  `json:"message"`
	} `json:"progress"`
	Result json.RawMessage `json:"result"`
}

func request(t *testing.T, method, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	return resp.StatusCode, body.String()
}

// Confirmations and tasks work across replicas sharing Redis: a token
// issued by A is redeemed by B once, and a task started on A is read and
// cancelled on B, which stops A's work.
func TestReplicasShareConfirmationsAndTasks(t *testing.T) {
	mail := newHeldMail()
	defer mail.open()
	upstream := httptest.NewServer(mail)
	defer upstream.Close()
	a, srvA := replica(t, upstream.URL)
	b, srvB := replica(t, upstream.URL)
	user := testredis.UniqueID(t)
	callURL := func(s *httptest.Server) string { return s.URL + "/v1/extensions/mail-client/call" }
	purge := `{"user_id":"` + user + `","function":"purge_trash","params":{"account_id":"work"}`

	status, held := post(t, callURL(srvA), purge+`}`, mintFor(user, "current"))
	var answer struct {
		ErrorCode string `json:"error_code"`
		Data      struct {
			Confirmation struct {
				Token string `json:"token"`
			} `json:"confirmation"`
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(held), &answer); err != nil || status != 200 || answer.ErrorCode != "CONFIRMATION_REQUIRED" {
		t.Fatalf("purge on A = %d %s", status, held)
	}
	confirmed := purge + `,"confirmation_token":"` + answer.Data.Confirmation.Token + `"}`
	if status, body := post(t, callURL(srvB), confirmed, mintFor(user, "current")); status != 200 || !strings.Contains(body, `"status":"success"`) {
		t.Fatalf("confirmed purge on B = %d %s", status, body)
	}
	if status, body := post(t, callURL(srvA), confirmed, mintFor(user, "current")); !strings.Contains(body, `"error_code":"CONFIRMATION_INVALID"`) {
		t.Fatalf("the same token again on A = %d %s", status, body)
	}

	mail.hold() // the archive's first batch waits
	status, started := post(t, callURL(srvA), `{"user_id":"`+user+`","function":"archive_by_query","params":{"account_id":"work","query":"is:unread"}}`, mintFor(user, "current"))
	if err := json.Unmarshal([]byte(started), &answer); err != nil || status != 200 || answer.Data.TaskID == "" {
		t.Fatalf("archive_by_query on A = %d %s", status, started)
	}
	id := answer.Data.TaskID
	<-mail.arrived
	taskURL := srvB.URL + "/v1/tasks/" + id

	if status, _ := request(t, http.MethodGet, taskURL, nil); status != 401 {
		t.Fatalf("GET without a token = %d, want 401", status)
	}
	// A bad token is refused before any task is looked up: whether an id
	// exists is no one's business but its user's.
	for _, url := range []string{taskURL, srvB.URL + "/v1/tasks/task_NOSUCHTASK"} {
		if status, _ := request(t, http.MethodGet, url, map[string]string{"Authorization": "ImperalCallToken bad.token"}); status != 401 {
			t.Fatalf("GET %s with a bad token = %d, want 401", url, status)
		}
	}
	if status, _ := request(t, http.MethodGet, taskURL, mintFor("someone-else", "current")); status != 404 {
		t.Fatalf("GET as another user = %d, want 404", status)
	}
	status, body := request(t, http.MethodGet, taskURL, mintFor(user, "current"))
	var got task
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 200 || got.Status != "running" || got.Function != "archive_by_query" || string(got.Result) != "null" {
		t.Fatalf("GET on B = %d %s", status, body)
	}
	if got := strings.Join(keysOf(t, body), ","); got != "task_id,function,status,progress,result" {
		t.Fatalf("task keys %s", got)
	}

	status, body = request(t, http.MethodDelete, taskURL, mintFor(user, "current"))
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 200 || got.Status != "cancelled" || !strings.Contains(string(got.Result), `"error_code":"CANCELED"`) {
		t.Fatalf("DELETE on B = %d %s", status, body)
	}
	select {
	case <-a.Dispatcher().Tasks().Done(id): // A heard B's announcement and stopped the work
	case <-time.After(10 * time.Second):
		t.Fatal("A's task still runs after B cancelled it")
	}
	if status, body := request(t, http.MethodGet, srvA.URL+"/v1/tasks/"+id, mintFor(user, "current")); status != 200 || !strings.Contains(body, `"status":"cancelled"`) {
		t.Fatalf("GET on A after the cancel = %d %s", status, body)
	}
	finished := func(events []string) int { return strings.Count(strings.Join(events, ","), "task.finished") }
	if na, nb := finished(eventTypes(a.Events())), finished(eventTypes(b.Events())); na+nb != 1 || nb != 1 {
		t.Fatalf("task.finished published %d times on A and %d on B, want once, by B", na, nb)
	}
}

func eventTypes(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.EventType
	}
	return out
}

func keysOf(t *testing.T, object string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(object))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return keys
}

// tasksExtension has a background function whose task waits for its
// context to end, telling when it has started.
func tasksExtension(started chan<- struct{}) *runtime.Extension {
	ext, tool := testkit.NewApp("tasks-app", "Background tasks.")
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.TaskStarted]{
		Name: "wait", Description: "Waits in the background until stopped.", Background: true,
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.StartTask("wait", func(c *ctx.Call) (runtime.Result, error) {
				started <- struct{}{}
				<-c.Done()
				return runtime.Result{}, c.Err()
			}), nil
		},
	})
	return ext
}

// A drain waits for running tasks up to its timeout, then cancels them and
// records that the host shut down.
func TestDrainCancelsRunningTasks(t *testing.T) {
	started := make(chan struct{}, 1)
	cfg := config.Default()
	cfg.Limits.DrainTimeout = 100 * time.Millisecond
	h, err := host.New(cfg, host.Options{Extensions: []*runtime.Extension{tasksExtension(started)}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, "127.0.0.1:0")
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(runCtx, l) }()

	status, body := post(t, "http://"+l.Addr().String()+"/v1/extensions/tasks-app/call", `{"user_id":"u-1","function":"wait"}`, nil)
	var answer struct {
		Data struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || status != 200 || answer.Data.TaskID == "" {
		t.Fatalf("wait = %d %s", status, body)
	}
	<-started
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v", err)
	}
	rec, ok, err := h.Dispatcher().Tasks().Get(context.Background(), answer.Data.TaskID)
	if err != nil || !ok || rec.Status != "cancelled" || !strings.Contains(string(rec.Result), "The host shut down before the task finished.") {
		t.Fatalf("record after the drain: %+v %v %v", rec, ok, err)
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Error("the stopped host still accepts connections")
	}
}
