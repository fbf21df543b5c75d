package host_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

// Say is the parameters of the policy fixture's functions.
type Say struct {
	Text string `json:"text" jsonschema:"required"`
}

// policyApp declares the confirmation policies and the task and notify
// paths a handler can take.
func policyApp() *runtime.Extension {
	ext, tool := testkit.NewApp("policy-app", "Confirmation, task and notification policies.")
	ok := func(*ctx.Call, Say) (runtime.Result, error) { return runtime.Success(nil, "ran"), nil }
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "always", Description: "A write that asks every time.", ActionType: runtime.Write,
		Confirmation: runtime.ConfirmAlways, Handler: ok,
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "never", Description: "A destructive call that never asks.", ActionType: runtime.Destructive,
		Confirmation: runtime.ConfirmNever, Handler: ok,
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "destroy", Description: "Destructive: asks by default.", ActionType: runtime.Destructive, Handler: ok,
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "careless", Description: "Destructive, with a summary that panics.", ActionType: runtime.Destructive,
		ConfirmSummary: func(Say) string { var p *Say; return p.Text }, Handler: ok,
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "sneaky", Description: "Starts a task without declaring Background.",
		Handler: func(*ctx.Call, Say) (runtime.Result, error) {
			return runtime.StartTask("sneaky", func(*ctx.Call) (runtime.Result, error) { return runtime.Success(nil, ""), nil }), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.TaskStarted]{
		Name: "boom", Description: "A task that panics.", Background: true,
		Handler: func(*ctx.Call, Say) (runtime.Result, error) {
			return runtime.StartTask("boom", func(*ctx.Call) (runtime.Result, error) { panic("the task's secret") }), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[Say, runtime.NoData]{
		Name: "shout", Description: "Notifies the caller.",
		Handler: func(c *ctx.Call, p Say) (runtime.Result, error) {
			if err := c.Notify(p.Text, map[string]string{"said": p.Text}); err != nil {
				return runtime.Success(nil, "dropped"), nil
			}
			return runtime.Success(nil, "sent"), nil
		},
	})
	return ext
}

func TestConfirmationPolicies(t *testing.T) {
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{policyApp()}})
	for _, tc := range []struct{ function, want string }{
		{"always", runtime.CodeConfirmationRequired},
		{"destroy", runtime.CodeConfirmationRequired},
		{"never", ""},
	} {
		r := h.CallHTTP("policy-app", tc.function, map[string]any{"text": "hi"})
		if r.ErrorCode != tc.want {
			t.Fatalf("%s = %s", tc.function, r.JSON)
		}
		if conf, ok := r.Confirmation(); ok && r.Summary != tc.function+" will run once you confirm." {
			t.Fatalf("%s: default summary %q (%+v)", tc.function, r.Summary, conf)
		}
	}
	// Parameters are validated before the gate: a bad call gets no token.
	if r := h.CallHTTP("policy-app", "destroy", map[string]any{}); r.ErrorCode != runtime.CodeValidationMissingField {
		t.Fatalf("destroy without text = %s", r.JSON)
	}
	// An ignored parameter that cannot be canonicalised is the caller's
	// error, not the host's.
	if r := h.CallHTTP("policy-app", "destroy", json.RawMessage(`{"text":"a","x":1e400}`)); r.ErrorCode != runtime.CodeValidationTypeError {
		t.Fatalf("destroy with 1e400 = %s", r.JSON)
	}
	// A summary that panics is the extension's bug: INTERNAL, in a batch
	// too (whose calls run on worker goroutines), and the host serves on.
	status, answer := post(t, h.URL()+"/v1/extensions/policy-app/batch",
		`{"user_id":"u-1","calls":[{"function":"careless","params":{"text":"a"}}]}`, nil)
	if status != 200 || !strings.Contains(answer, `"error_code":"INTERNAL"`) {
		t.Fatalf("careless in a batch = %d %s", status, answer)
	}
	if r := h.CallHTTP("policy-app", "careless", map[string]any{"text": "a"}); r.ErrorCode != runtime.CodeInternal || r.HTTPStatus != 200 {
		t.Fatalf("careless = %d %s", r.HTTPStatus, r.JSON)
	}
}

// A batch carries a confirmation token per call.
func TestBatchCallsCarryConfirmations(t *testing.T) {
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{policyApp()}})
	conf, ok := h.CallHTTP("policy-app", "destroy", map[string]any{"text": "a"}).Confirmation()
	if !ok {
		t.Fatal("no confirmation")
	}
	body := `{"user_id":"` + hosttest.DefaultUser().ImperalID + `","calls":[` +
		`{"function":"destroy","params":{"text":"a"},"confirmation_token":"` + conf.Token + `"},` +
		`{"function":"destroy","params":{"text":"b"},"confirmation_token":"` + conf.Token + `"},` +
		`{"function":"destroy","params":{"text":"c"}}]}`
	status, answer := post(t, h.URL()+"/v1/extensions/policy-app/batch", body, nil)
	var out struct {
		Results []hosttest.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(answer), &out); err != nil || status != 200 || len(out.Results) != 3 {
		t.Fatalf("batch = %d %s", status, answer)
	}
	for i, want := range []string{"", runtime.CodeConfirmationInvalid, runtime.CodeConfirmationRequired} {
		if out.Results[i].ErrorCode != want {
			t.Fatalf("result %d = %+v, want %q", i, out.Results[i], want)
		}
	}
}

// A task that panics ends error/INTERNAL with nothing of the panic in its
// result, and the host serves on; a handler that starts a task it did not
// declare fails INTERNAL and starts nothing.
func TestTaskFailuresAreContained(t *testing.T) {
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{policyApp()}})
	started := h.Call("policy-app", "boom", map[string]any{"text": "x"})
	id, ok := started.TaskID()
	if !ok {
		t.Fatalf("boom = %s", started.JSON)
	}
	task := h.WaitTask(id)
	if task.Status != "error" || task.Result.ErrorCode != runtime.CodeInternal || strings.Contains(string(task.Result.JSON), "secret") {
		t.Fatalf("panicked task = %+v %s", task, task.Result.JSON)
	}
	if h.Logs().FilterMessage("handler panicked").Len() != 1 {
		t.Fatal("the panic was not logged")
	}
	if r := h.Call("policy-app", "sneaky", map[string]any{"text": "x"}); r.ErrorCode != runtime.CodeInternal {
		t.Fatalf("sneaky = %s", r.JSON)
	}
	if r := h.Call("policy-app", "never", map[string]any{"text": "x"}); !r.OK() {
		t.Fatalf("the host stopped serving: %s", r.JSON)
	}
}

// In dev mode a task is its user's: user_id is required, another user's
// task and an unknown one are both 404.
func TestTaskEndpointsInDevMode(t *testing.T) {
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{policyApp()}})
	id, _ := h.Call("policy-app", "boom", map[string]any{"text": "x"}).TaskID()
	h.WaitTask(id)
	user := hosttest.DefaultUser().ImperalID
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/tasks/" + id + "?user_id=" + user, 200},
		{http.MethodGet, "/v1/tasks/" + id, 400},
		{http.MethodGet, "/v1/tasks/" + id + "?user_id=someone-else", 404},
		{http.MethodGet, "/v1/tasks/task_NOSUCHTASK?user_id=" + user, 404},
		{http.MethodDelete, "/v1/tasks/" + id + "?user_id=someone-else", 404},
		{http.MethodDelete, "/v1/tasks/" + id + "?user_id=" + user, 200}, // ended already: answered as it ended
	} {
		status, body := request(t, tc.method, h.URL()+tc.path, nil)
		if status != tc.want {
			t.Fatalf("%s %s = %d %s", tc.method, tc.path, status, body)
		}
		if status == 200 && !strings.Contains(body, `"status":"error"`) {
			t.Fatalf("%s %s = %s", tc.method, tc.path, body)
		}
	}
}

// Notifications go to the harness with the envelope's fields, and a flood
// past the user's rate is dropped.
func TestNotificationsAndTheirRate(t *testing.T) {
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{policyApp()}, NotificationsPerMinute: 1, NotificationBurst: 2})
	var summaries []string
	for range 3 {
		summaries = append(summaries, h.Call("policy-app", "shout", map[string]any{"text": "héllo"}).Summary)
	}
	if got := strings.Join(summaries, ","); got != "sent,sent,dropped" {
		t.Fatalf("summaries %s", got)
	}
	status, answer := send(t, http.MethodGet, h.URL()+"/v1/harness/notifications", "")
	notes, _ := answer["notifications"].([]any)
	if status != 200 || len(notes) != 2 {
		t.Fatalf("harness notifications = %d %v", status, answer)
	}
	first := notes[0].(map[string]any)
	if first["message"] != "héllo" || first["source_app"] != "policy-app" || first["tenant_id"] != "default" {
		t.Fatalf("notification %v", first)
	}
	if n := h.Notifications(); len(n) != 2 || !strings.Contains(string(n[0].JSON), `"message": "h\u00e9llo"`) {
		t.Fatalf("hosttest notifications %+v", n)
	}
}
