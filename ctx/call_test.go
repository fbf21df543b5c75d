package ctx_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/ctx"
)

// sdk-contract.md §12 case 55: has_scope.
func TestHasScope(t *testing.T) {
	cases := []struct {
		scopes []string
		scope  string
		want   bool
	}{
		{[]string{"*"}, "anything.at.all", true},
		{[]string{"crm.*"}, "crm.read", true},
		{[]string{"crm.*"}, "crm", true},
		{[]string{"crm.*"}, "crm.contacts.write", true},
		{[]string{"crm.*"}, "email.read", false},
		{[]string{"crm.*"}, "crmx.read", false},
		{[]string{"email.read"}, "email.read", true},
		{[]string{"email.read"}, "email.write", false},
		{[]string{"email:*"}, "email:read", false}, // ":*" is not a wildcard in the SDK either
		{nil, "email.read", false},
	}
	for _, tc := range cases {
		if got := (ctx.User{Scopes: tc.scopes}).HasScope(tc.scope); got != tc.want {
			t.Errorf("%v.HasScope(%q) = %v, want %v", tc.scopes, tc.scope, got, tc.want)
		}
	}
	if !(ctx.User{Role: "admin"}).HasRole("admin") || (ctx.User{Role: "admin"}).HasRole("user") {
		t.Error("HasRole")
	}
}

func TestCallCarriesContextClockAndLogger(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	parent, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := ctx.NewCall(parent, ctx.Setup{
		AppID: "mail-client", Function: "list_inbox", RequestID: "req-9",
		User:  ctx.User{ImperalID: "imp_u_1", Scopes: []string{"mail.read"}},
		Clock: func() time.Time { return fixed }, Logger: zap.New(core),
	})

	var _ context.Context = c // a *Call is the context handlers pass on
	if dl, ok := c.Deadline(); !ok || time.Until(dl) < 59*time.Minute {
		t.Fatalf("deadline not carried: %v %v", dl, ok)
	}
	if !c.Now().Equal(fixed) {
		t.Fatal("Now ignores the host clock")
	}
	first := c.Log()
	first.Info("hello")
	if second := c.Log(); second != first {
		t.Fatal("the call logger is rebuilt on every use")
	}
	fields := logs.All()[0].ContextMap()
	if fields["request_id"] != "req-9" || fields["app"] != "mail-client" || fields["function"] != "list_inbox" || fields["user_id"] != "imp_u_1" {
		t.Fatalf("call log fields = %v", fields)
	}
	detached := c.WithContext(context.Background())
	if detached.Log() != first || detached.UserID() != "imp_u_1" || detached.RequestID() != "req-9" {
		t.Fatal("a detached copy is not the same call")
	}
	cancel()
	if c.Err() == nil {
		t.Fatal("cancellation not carried")
	}
	if detached.Err() != nil {
		t.Fatal("the detached copy was cancelled with its parent")
	}
}

func TestCallCannotBeChanged(t *testing.T) {
	c := ctx.NewCall(context.Background(), ctx.Setup{User: ctx.User{ImperalID: "imp_u_1", Scopes: []string{"mail.read"}}})
	u := c.User()
	u.ImperalID, u.Scopes[0] = "someone_else", "*"
	if got := c.User(); got.ImperalID != "imp_u_1" || got.Scopes[0] != "mail.read" || c.User().HasScope("calendar.read") {
		t.Fatalf("the caller changed through a copy: %+v", got)
	}
}
