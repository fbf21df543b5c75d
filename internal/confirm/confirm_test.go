package confirm_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/confirm"
	"github.com/imperalcloud/exthost/internal/replay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newGate(t *testing.T, c *clock.Clock, keys ...string) *confirm.Gate {
	t.Helper()
	replays, err := replay.New(replay.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replays.Close)
	if len(keys) == 0 {
		keys = []string{"a-key-of-sixteen-bytes-or-more"}
	}
	var raw [][]byte
	for _, k := range keys {
		raw = append(raw, []byte(k))
	}
	g, err := confirm.New(confirm.Options{Keys: raw, TTL: 5 * time.Minute, Replays: replays, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var purge = confirm.Call{AppID: "mail-client", UserID: "u-1", Function: "purge_trash", Params: json.RawMessage(`{"account_id":"a1","folder":"Trash"}`)}

// A token is good for exactly the call it was issued for, once, before it
// expires; everything else is refused with its reason, and nothing is used
// up by a refusal that is not a replay.
func TestRedeem(t *testing.T) {
	other := func(edit func(*confirm.Call)) confirm.Call { c := purge; edit(&c); return c }
	cases := []struct {
		name    string
		call    confirm.Call
		advance time.Duration
		token   func(token string) string
		want    error
	}{
		{name: "the call itself", call: purge},
		{name: "keys in another order, other whitespace", call: other(func(c *confirm.Call) {
			c.Params = json.RawMessage(" {\n \"folder\" : \"Trash\",\t\"account_id\":\"a1\" } ")
		})},
		{name: "one second before expiry", call: purge, advance: 5*time.Minute - time.Second},
		{name: "other params", call: other(func(c *confirm.Call) { c.Params = json.RawMessage(`{"account_id":"a2","folder":"Trash"}`) }), want: confirm.ErrOtherCall},
		{name: "a value of another type", call: other(func(c *confirm.Call) { c.Params = json.RawMessage(`{"account_id":1,"folder":"Trash"}`) }), want: confirm.ErrOtherCall},
		{name: "a parameter more", call: other(func(c *confirm.Call) { c.Params = json.RawMessage(`{"account_id":"a1","folder":"Trash","all":true}`) }), want: confirm.ErrOtherCall},
		{name: "other user", call: other(func(c *confirm.Call) { c.UserID = "u-2" }), want: confirm.ErrOtherCall},
		{name: "other function", call: other(func(c *confirm.Call) { c.Function = "archive_message" }), want: confirm.ErrOtherCall},
		{name: "other app", call: other(func(c *confirm.Call) { c.AppID = "notes" }), want: confirm.ErrOtherCall},
		{name: "expired", call: purge, advance: 5 * time.Minute, want: confirm.ErrExpired},
		{name: "forged signature", call: purge, token: func(tok string) string {
			payload, _, _ := strings.Cut(tok, ".")
			return payload + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		}, want: confirm.ErrSignature},
		{name: "claims swapped under the signature", call: purge, token: func(tok string) string {
			_, sig, _ := strings.Cut(tok, ".")
			return "eyJqdGkiOiJ4IiwiYXBwIjoibWFpbC1jbGllbnQifQ." + sig
		}, want: confirm.ErrSignature},
		{name: "not a token", call: purge, token: func(string) string { return "garbage" }, want: confirm.ErrMalformed},
		{name: "too long", call: purge, token: func(string) string { return strings.Repeat("a", 2000) + ".b" }, want: confirm.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := clock.Fixed(epoch)
			g := newGate(t, c)
			ticket, err := g.Issue(purge)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(ticket.Params), `{"account_id":"a1","folder":"Trash"}`; got != want {
				t.Fatalf("canonical params %s, want %s", got, want)
			}
			if !ticket.ExpiresAt.Equal(epoch.Add(5 * time.Minute)) {
				t.Fatalf("expires at %s", ticket.ExpiresAt)
			}
			token := ticket.Token
			if tc.token != nil {
				token = tc.token(token)
			}
			if _, err := c.Advance(tc.advance); err != nil {
				t.Fatal(err)
			}
			err = g.Redeem(context.Background(), token, tc.call)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Redeem = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if err := g.Redeem(context.Background(), token, tc.call); !errors.Is(err, confirm.ErrReplayed) {
					t.Fatalf("second Redeem = %v, want ErrReplayed", err)
				}
				// With a request id, the call's retries may redeem it again;
				// another call may not.
				ticket, err := g.Issue(tc.call)
				if err != nil {
					t.Fatal(err)
				}
				first, retry, other := tc.call, tc.call, tc.call
				first.RequestID, retry.RequestID, other.RequestID = "req-1", "req-1", "req-2"
				for i, step := range []struct {
					call confirm.Call
					want error
				}{{first, nil}, {retry, nil}, {other, confirm.ErrReplayed}} {
					if err := g.Redeem(context.Background(), ticket.Token, step.call); !errors.Is(err, step.want) {
						t.Fatalf("redeem %d with a request id = %v, want %v", i, err, step.want)
					}
				}
				return
			}
			if errors.Is(tc.want, confirm.ErrOtherCall) {
				// The refusal did not use the token up: the call it was
				// issued for still runs.
				if err := g.Redeem(context.Background(), ticket.Token, purge); err != nil {
					t.Fatalf("Redeem of the right call after a refusal = %v", err)
				}
			}
		})
	}
}

// A token signed with a previous key still redeems while that key is
// configured (rotation), and one from an unrelated host never does.
func TestKeyRotation(t *testing.T) {
	c := clock.Fixed(epoch)
	old := newGate(t, c, "the-old-key-sixteen-bytes")
	rotated := newGate(t, c, "the-new-key-sixteen-bytes", "the-old-key-sixteen-bytes")
	stranger := newGate(t, c, "another-host-key-sixteen")
	ticket, err := old.Issue(purge)
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.Redeem(context.Background(), ticket.Token, purge); !errors.Is(err, confirm.ErrSignature) {
		t.Fatalf("a stranger redeemed: %v", err)
	}
	if err := rotated.Redeem(context.Background(), ticket.Token, purge); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

// Two tokens for the same call are distinct: each is good once.
func TestTokensAreDistinct(t *testing.T) {
	g := newGate(t, clock.Fixed(epoch))
	a, _ := g.Issue(purge)
	b, _ := g.Issue(purge)
	if a.Token == b.Token {
		t.Fatal("two tokens alike")
	}
	for _, tok := range []string{a.Token, b.Token} {
		if err := g.Redeem(context.Background(), tok, purge); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		``: `{}`, `null`: `{}`, ` {} `: `{}`,
		`{"b":1,"a":[2,{"d":1,"c":2}]}`: `{"a":[2,{"c":2,"d":1}],"b":1}`,
		`{"x":1.0}`:                     `{"x":1.0}`,
		`{"x":"é"}`:                     `{"x":"\u00e9"}`,
	} {
		got, err := confirm.Canonical(json.RawMessage(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
}

func TestNewRefusesWeakOptions(t *testing.T) {
	replays, err := replay.New(replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer replays.Close()
	for name, opts := range map[string]confirm.Options{
		"no key":    {Replays: replays},
		"short key": {Keys: [][]byte{[]byte("short")}, Replays: replays},
		"no replay": {Keys: [][]byte{[]byte("a-key-of-sixteen-bytes")}},
	} {
		if _, err := confirm.New(opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
