package mailservice

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestAddressLabel(t *testing.T) {
	tests := []struct{ id, def, want string }{
		{"u-1", "user", "u-1"},
		{"Alice.Smith_2", "user", "alice.smith_2"},
		{"alice@example.com", "user", "alice-example.com"},
		{"Work Projects", "account", "work-projects"},
		{"Входящие", "account", "--------"},
		{"a\x80b", "user", "a-b"},
		{strings.Repeat("x", 40), "user", strings.Repeat("x", 32)},
		{strings.Repeat("é", 40), "user", strings.Repeat("-", 32)},
		{"", "user", "user"},
		{"", "account", "account"},
	}
	for _, tt := range tests {
		if got := addressLabel(tt.id, tt.def); got != tt.want {
			t.Errorf("addressLabel(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func getAccounts(t *testing.T, h http.Handler, user string) ([]account, []byte) {
	t.Helper()
	var resp accountsResponse
	raw := getJSON(t, h, "/v1/accounts?user_id="+url.QueryEscape(user), &resp)
	return resp.Accounts, raw
}

func TestAccounts(t *testing.T) {
	s := New(Options{})
	got, raw := getAccounts(t, s, "Alice@Corp")
	if k := keys(t, raw); !slices.Equal(k, []string{"accounts"}) {
		t.Fatalf("keys %v, want [accounts]", k)
	}
	var entries struct{ Accounts []json.RawMessage }
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries.Accounts {
		if k := keys(t, e); !slices.Equal(k, []string{"account_id", "email", "provider", "display_name", "active"}) {
			t.Fatalf("account keys %v", k)
		}
	}
	want := []account{
		{"personal", "alice-corp@personal.example.com", "imap", "Personal", false},
		{"work", "alice-corp@work.example.com", "imap", "Work", true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("accounts %+v, want %+v", got, want)
	}

	// Accounts used since are listed too, sorted by id, inactive.
	getPage(t, s, "Alice@Corp", "Shared Box", "INBOX", 0, "")
	getPage(t, s, "Alice@Corp", "archive-2024", "INBOX", 0, "")
	getPage(t, s, "bob", "bobs-only", "INBOX", 0, "")
	got, _ = getAccounts(t, s, "Alice@Corp")
	want = []account{
		{"Shared Box", "alice-corp@shared-box.example.com", "imap", "Shared Box", false},
		{"archive-2024", "alice-corp@archive-2024.example.com", "imap", "archive-2024", false},
		want[0], want[1],
	}
	if !slices.Equal(got, want) {
		t.Fatalf("accounts %+v, want %+v", got, want)
	}

	status, body := call(t, s, http.MethodGet, "/v1/accounts", "")
	if status != http.StatusBadRequest {
		t.Fatalf("no user_id: status %d", status)
	}
	assertError(t, status, body, codeValidation)
}
