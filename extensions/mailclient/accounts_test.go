package mailclient_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

// Accounts are documents of the store: they outlive every cache entry, are
// the caller's own, and the trace shows the store operations.
func TestAccountsLiveInTheStore(t *testing.T) {
	for _, backend := range []string{"memory", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			h := hosttest.New(t, hosttest.Options{
				Extensions: []*runtime.Extension{mailclient.Extension()},
				Upstreams:  map[string]http.Handler{"mail-service": newMailSwitch()},
				Postgres:   backend == "postgres",
				User:       ctx.User{ImperalID: "ann", TenantID: "default"},
			})
			for _, p := range []string{
				`{"account_id":"work","email":"ann@work.example","active":true}`,
				`{"account_id":"home","email":"ann@home.example","provider":"gmail"}`,
			} {
				if res := h.Call("mail-client", "connect_account", json.RawMessage(p)); !res.OK() {
					t.Fatalf("connect_account = %s", res.JSON)
				}
			}
			res := h.Call("mail-client", "list_accounts", json.RawMessage(`{}`))
			var data mailclient.AccountsData
			if err := json.Unmarshal(res.Data, &data); err != nil || len(data.Accounts) != 2 {
				t.Fatalf("list_accounts = %s", res.JSON)
			}
			if a := data.Accounts[1]; a.AccountID != "work" || !a.Active || a.Provider != "imap" || len(a.Etag) != 64 {
				t.Fatalf("work account = %+v", a)
			}
			if ops := res.Trace.Store; len(ops) != 1 || ops[0].Op != "query" || ops[0].Collection != "mail_accounts" || ops[0].Outcome != "ok" {
				t.Fatalf("trace store ops = %+v", ops)
			}
			gmail := h.Call("mail-client", "list_accounts", json.RawMessage(`{"provider":"gmail"}`))
			if err := json.Unmarshal(gmail.Data, &data); err != nil || len(data.Accounts) != 1 || data.Accounts[0].AccountID != "home" {
				t.Fatalf("list_accounts gmail = %s", gmail.JSON)
			}
			if docs := h.Documents("ann"); len(docs) != 2 || docs[0].Collection != "mail_accounts" || docs[0].ID != "home" {
				t.Fatalf("the store holds %+v", docs)
			}
			h.SeedDocument("mail-client", "bob", "mail_accounts", "old", mailclient.Account{Email: "bob@x.io", Provider: "imap"})
			if n := h.ClearStore("bob"); n != 1 {
				t.Fatalf("ClearStore = %d, want the seeded one", n)
			}
			other := h.Call("mail-client", "list_accounts", json.RawMessage(`{}`), hosttest.AsUser("bob"))
			if err := json.Unmarshal(other.Data, &data); err != nil || len(data.Accounts) != 0 {
				t.Fatalf("another user sees %s", other.JSON)
			}
		})
	}
}
