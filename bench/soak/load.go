package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxAttempts bounds the attempts of one call; retries alternate replicas
// and back off up to a second.
const maxAttempts = 10

// mailAccounts are the accounts every user of the mail-service has.
var mailAccounts = []string{"personal", "work"}

// user is one conversation's state: what the load knows was acknowledged,
// to check later answers and the records against. Only the session that
// holds the user touches it.
type user struct {
	id      string
	listing map[string][]string // account → the ids of its last inbox page
	// gone, starred and read hold the messages an acknowledged write moved
	// out of the inbox (to the folder named), starred or marked read: each
	// is for good, as the load never undoes one.
	gone    map[string]map[string]string
	starred map[string]map[string]bool
	read    map[string]map[string]bool
	// active is the account the last acknowledged switch_account made
	// active; unsure is set when a switch after it was not acknowledged.
	active string
	unsure bool
	// connected are the accounts acknowledged connect_account calls added.
	connected []string
	sends     []*sent
	n         int // calls made, for unique markers
	// last is the last acknowledged call, and why what each write above
	// did to a message (by account/id): what a violation names.
	last string
	why  map[string]string
}

// sent is one send or reply the load asked for.
type sent struct {
	user, account, marker string
	acked                 bool
}

// load plays the conversations.
type load struct {
	sys   *system
	rec   *recorder
	o     options
	users []*user
	made  atomic.Int64
	// script is the faults played beside the load.
	script []*fault

	mu      sync.Mutex
	rpcCall map[string]bool // every stream call's request id → some attempt was answered
}

func newLoad(sys *system, rec *recorder, o options) *load {
	l := &load{sys: sys, rec: rec, o: o, rpcCall: map[string]bool{}}
	for i := range o.users {
		l.users = append(l.users, &user{
			id: fmt.Sprintf("soak-u%04d", i), listing: map[string][]string{},
			why: map[string]string{}, gone: map[string]map[string]string{}, starred: map[string]map[string]bool{}, read: map[string]map[string]bool{},
		})
	}
	return l
}

// run plays turns of the users' conversations from o.sessions sessions
// until ctx ends or the calls reach o.maxCalls; a user is in one session
// at a time, so its calls come one after another.
func (l *load) run(ctx context.Context) {
	idle := make(chan *user, len(l.users))
	for _, u := range l.users {
		idle <- u
	}
	var wg sync.WaitGroup
	for i := range l.o.sessions {
		rnd := rand.New(rand.NewPCG(l.o.seed, uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil && l.made.Load() < l.o.maxCalls {
				var u *user
				select {
				case u = <-idle:
				case <-ctx.Done():
					return
				}
				for range 1 + rnd.IntN(4) {
					l.step(rnd, u)
				}
				idle <- u
			}
		})
	}
	wg.Wait()
}

// step is one function a chat's user would ask for, with the weights of
// such a conversation.
func (l *load) step(rnd *rand.Rand, u *user) {
	u.n++
	account := mailAccounts[rnd.IntN(len(mailAccounts))]
	pick := func() string {
		ids := u.listing[account]
		if len(ids) == 0 {
			return ""
		}
		return ids[rnd.IntN(len(ids))]
	}
	w := rnd.IntN(100)
	if u.n == 1 {
		w = 43 // a conversation opens with status, which also brings the user's accounts into the store
	}
	switch {
	case w < 22:
		if res, ok := l.do(rnd, u, "inbox", classRead, map[string]any{"account": account}); ok {
			l.checkListing(u, account, "inbox", res)
		}
	case w < 36:
		if res, ok := l.do(rnd, u, "list_inbox", classRead, map[string]any{"account_id": account}); ok {
			l.checkListing(u, account, "list_inbox", res)
		}
	case w < 42:
		l.do(rnd, u, "get_unread_summary", classRead, map[string]any{})
	case w < 47:
		l.do(rnd, u, "status", classRead, map[string]any{})
	case w < 55:
		if id := pick(); id != "" {
			if _, ok := l.do(rnd, u, "read_email", classRead, map[string]any{"message_id": id, "account": account}); ok {
				mark(u, u.read, account, id)
			}
		}
	case w < 60:
		l.do(rnd, u, "search", classRead, map[string]any{"query": []string{"is:unread", "is:starred", "subject:re", "newer_than:30d"}[rnd.IntN(4)], "account": account})
	case w < 64:
		l.do(rnd, u, "count_emails", classRead, map[string]any{"account": account})
	case w < 67:
		l.do(rnd, u, "list_accounts", classRead, map[string]any{})
	case w < 72:
		if id := pick(); id != "" {
			if _, ok := l.do(rnd, u, "archive_message", classWrite, map[string]any{"account_id": account, "message_id": id}); ok {
				l.moved(u, account, id, "archive")
			}
		}
	case w < 76:
		if id := pick(); id != "" {
			if _, ok := l.do(rnd, u, "mark_read", classWrite, map[string]any{"account_id": account, "message_id": id}); ok {
				mark(u, u.read, account, id)
			}
		}
	case w < 80:
		if id := pick(); id != "" {
			if _, ok := l.do(rnd, u, "star", classWrite, map[string]any{"message_ids": []string{id}, "account": account}); ok {
				mark(u, u.starred, account, id)
			}
		}
	case w < 83:
		s := &sent{user: u.id, account: account, marker: fmt.Sprintf("soak-send %s %d %d", u.id, u.n, l.o.seed)}
		u.sends = append(u.sends, s)
		_, s.acked = l.do(rnd, u, "send", classWrite, map[string]any{"to": "friend@example.com", "subject": "soak " + u.id, "body": s.marker, "account": account})
	case w < 85:
		if id := pick(); id != "" {
			s := &sent{user: u.id, account: account, marker: fmt.Sprintf("soak-reply %s %d %d", u.id, u.n, l.o.seed)}
			u.sends = append(u.sends, s)
			_, s.acked = l.do(rnd, u, "reply", classWrite, map[string]any{"message_id": id, "body": s.marker, "account": account})
		}
	case w < 89:
		if _, ok := l.do(rnd, u, "switch_account", classWrite, map[string]any{"account": account}); ok {
			u.active, u.unsure = account, false
		} else {
			u.unsure = true
		}
	case w < 91:
		if id := pick(); id != "" {
			if _, ok := l.do(rnd, u, "move", classWrite, map[string]any{"message_ids": []string{id}, "to_folder": "Projects", "account": account}); ok {
				l.moved(u, account, id, "Projects")
			}
		}
	case w < 93:
		extra := fmt.Sprintf("extra-%d", u.n)
		if _, ok := l.do(rnd, u, "connect_account", classWrite, map[string]any{"account_id": extra, "email": u.id + "@" + extra + ".example"}); ok {
			u.connected = append(u.connected, extra)
		}
	case w < 96:
		l.confirmed(rnd, u, "purge_trash", map[string]any{"account_id": account})
	case w < 98:
		l.do(rnd, u, "archive", classTask, map[string]any{"query": "is:read older_than:20d", "account": account})
	default:
		l.do(rnd, u, "archive_by_query", classTask, map[string]any{"account_id": account, "query": "is:read older_than:25d"})
	}
}

// inFault reports whether an attempt from began to ended (from the start
// of the load) overlapped a fault or its grace.
func (l *load) inFault(began, ended time.Duration) bool {
	for _, f := range l.script {
		if f.overlaps(began, ended) {
			return true
		}
	}
	return false
}

// mark adds id to set's account.
func mark(u *user, set map[string]map[string]bool, account, id string) {
	if set[account] == nil {
		set[account] = map[string]bool{}
	}
	set[account][id] = true
	u.why[account+"/"+id] = u.last
}

// moved records id as out of account's inbox for good, into folder.
func (l *load) moved(u *user, account, id, folder string) {
	if u.gone[account] == nil {
		u.gone[account] = map[string]string{}
	}
	u.gone[account][id] = folder
	u.why[account+"/"+id] = u.last
	u.listing[account] = slices.DeleteFunc(u.listing[account], func(x string) bool { return x == id })
}

// confirmed calls a function behind the confirmation gate: held first,
// then confirmed with the token the held answer gave. A confirmation whose
// first attempt's fate is unknown (the replica went away) may find its
// token spent; then the gate is asked again.
func (l *load) confirmed(rnd *rand.Rand, u *user, function string, params map[string]any) {
	for range 3 {
		held, ok := l.do(rnd, u, function, classDestructive, params)
		if !ok || held.ErrorCode != "CONFIRMATION_REQUIRED" {
			if ok {
				l.rec.violation("%s %s: answered %s %q without its confirmation", u.id, function, held.Status, held.ErrorCode)
			}
			return
		}
		var data struct {
			Confirmation struct {
				Token string `json:"token"`
			} `json:"confirmation"`
		}
		if json.Unmarshal(held.Data, &data) != nil || data.Confirmation.Token == "" {
			l.rec.violation("%s %s: held without a confirmation token", u.id, function)
			return
		}
		res, ok := l.doConfirmed(rnd, u, function, classDestructive, params, data.Confirmation.Token)
		if ok || res.ErrorCode != "CONFIRMATION_INVALID" {
			return
		}
	}
}

// do makes one call, retried as an orchestrator would; ok reports an
// acknowledged answer (a success, or the gate's CONFIRMATION_REQUIRED).
func (l *load) do(rnd *rand.Rand, u *user, function, class string, params map[string]any) (actionResult, bool) {
	return l.doConfirmed(rnd, u, function, class, params, "")
}

func (l *load) doConfirmed(rnd *rand.Rand, u *user, function, class string, params map[string]any, token string) (actionResult, bool) {
	l.made.Add(1)
	c := call{user: u.id, function: function, requestID: "soak-" + crand.Text()[:20], params: params, confirmationToken: token}
	transport := [...]string{overHTTP, overHTTP, overMCP, overRPC}[rnd.IntN(4)] // half over HTTP, a quarter over MCP and the stream each
	if transport == overRPC {
		l.mu.Lock()
		l.rpcCall[c.requestID] = false
		l.mu.Unlock()
	}
	r := rnd.IntN(2)
	if l.o.sticky {
		r = int(u.id[len(u.id)-1]) % 2
	}
	var res actionResult
	for n := range maxAttempts {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), rpcWait+5*time.Second)
		var err error
		res, err = l.sys.attempt(ctx, transport, l.sys.replicas[r], c, n)
		cancel()
		if err == nil && (res.Status == "success" || res.ErrorCode == "CONFIRMATION_REQUIRED" && token == "") {
			l.rec.success(transport, class, began)
			u.last = fmt.Sprintf("%s over %s at replica %s, attempt %d, %.3fs", function, transport, l.sys.replicas[r].name, n+1, l.rec.since().Seconds())
			if transport == overRPC {
				l.mu.Lock()
				l.rpcCall[c.requestID] = true
				l.mu.Unlock()
			}
			return res, true
		}
		f := failure{transport: transport, function: function}
		if ae, ok := err.(*attemptError); ok {
			f.code, f.retryable, f.status = ae.code, ae.retryable, ae.status
		} else if err != nil {
			f.code = err.Error()
		} else {
			f.code, f.retryable = res.ErrorCode, res.Retryable
			if transport == overRPC {
				l.mu.Lock()
				l.rpcCall[c.requestID] = true // answered, with an error result
				l.mu.Unlock()
			}
		}
		l.rec.fail(f, began)
		if !f.retryable {
			return res, false
		}
		time.Sleep(min(50*time.Millisecond<<n, time.Second)) // the orchestrator's backoff
		r = 1 - r
	}
	return res, false
}

// checkListing checks an inbox page against what acknowledged writes did:
// no message they moved out, every message they starred starred and every
// one they marked read read. A page that breaks one is a stale read.
func (l *load) checkListing(u *user, account, function string, res actionResult) {
	var page struct {
		Messages []struct {
			ID        string `json:"id"`
			MessageID string `json:"message_id"`
			Unread    bool   `json:"unread"`
			Starred   bool   `json:"starred"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(res.Data, &page); err != nil {
		l.rec.violation("%s %s: data is not a page: %v", u.id, function, err)
		return
	}
	ids := make([]string, 0, len(page.Messages))
	for _, m := range page.Messages {
		id := m.ID + m.MessageID
		switch {
		case u.gone[account][id] != "":
			l.rec.violation("%s %s %s: lists %s, moved to %s by an acknowledged %s (stale; read by %s)", u.id, function, account, id, u.gone[account][id], u.why[account+"/"+id], u.last)
		case u.starred[account][id] && !m.Starred:
			l.rec.violation("%s %s %s: %s not starred after an acknowledged %s (stale; read by %s)", u.id, function, account, id, u.why[account+"/"+id], u.last)
		case u.read[account][id] && m.Unread:
			l.rec.violation("%s %s %s: %s unread after an acknowledged %s (stale; read by %s)", u.id, function, account, id, u.why[account+"/"+id], u.last)
		default:
			ids = append(ids, id)
		}
	}
	u.listing[account] = ids
}
