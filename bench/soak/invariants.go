package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// checkInvariants checks, once the load is over, what must hold whatever
// the faults did, against the mail-service's and the store's own records
// and the stream's reply lists; it returns what failed, with the
// violations the load saw while it ran.
func checkInvariants(ctx context.Context, s *system, l *load) ([]string, error) {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < 1000 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	if err := checkSends(ctx, s, l, add); err != nil {
		return nil, err
	}
	if err := checkStore(ctx, s, l, add); err != nil {
		return nil, err
	}
	if err := checkReplies(ctx, s, l, add); err != nil {
		return nil, err
	}
	if err := checkMailboxes(ctx, s, l, add); err != nil {
		return nil, err
	}
	checkFailures(l, add)
	l.rec.mu.Lock()
	out = append(out, l.rec.violations...)
	l.rec.mu.Unlock()
	return out, nil
}

// checkSends: every acknowledged send or reply was filed exactly once,
// every other at most once, and nothing was filed that the load did not
// ask for.
func checkSends(ctx context.Context, s *system, l *load, add func(string, ...any)) error {
	var log struct {
		Sent []struct {
			UserID string `json:"user_id"`
			Body   string `json:"body"`
		} `json:"sent"`
	}
	if err := s.mailGet(ctx, "/v1/_sent", nil, &log); err != nil {
		return err
	}
	filed := map[string]int{}
	for _, m := range log.Sent {
		filed[m.Body]++
	}
	asked := map[string]bool{}
	for _, u := range l.users {
		for _, sn := range u.sends {
			asked[sn.marker] = true
			switch n := filed[sn.marker]; {
			case sn.acked && n != 1:
				add("send %q: acknowledged, filed %d times", sn.marker, n)
			case n > 1:
				add("send %q: not acknowledged, filed %d times", sn.marker, n)
			}
		}
	}
	for body := range filed {
		if !asked[body] {
			add("a message filed that no call sent (%.40q)", body)
		}
	}
	return nil
}

// checkStore: every user's active account is the one its last
// acknowledged switch_account chose (unless a later switch's fate is
// unknown), and every acknowledged connect_account's account is stored.
func checkStore(ctx context.Context, s *system, l *load, add func(string, ...any)) error {
	for _, u := range l.users {
		if u.active == "" && len(u.connected) == 0 {
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT id, data->>'active' FROM exthost_documents
			WHERE app = $1 AND user_id = $2 AND collection = 'mail_accounts'`, appID, u.id)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		stored := map[string]bool{}
		var active []string
		for rows.Next() {
			var id, isActive string
			if err := rows.Scan(&id, &isActive); err != nil {
				rows.Close()
				return fmt.Errorf("store: %w", err)
			}
			stored[id] = true
			if isActive == "true" {
				active = append(active, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if u.active != "" && !u.unsure && !slices.Equal(active, []string{u.active}) {
			add("store: %s: active accounts %v, the last acknowledged switch_account chose %s", u.id, active, u.active)
		}
		for _, id := range u.connected {
			if !stored[id] {
				add("store: %s: account %s of an acknowledged connect_account is not stored", u.id, id)
			}
		}
	}
	return nil
}

// checkReplies: no stream call was answered twice (a reply list holds at
// most one reply, none left once one was read) and none was lost (every
// call got a reply on one of its attempts' lists).
func checkReplies(ctx context.Context, s *system, l *load, add func(string, ...any)) error {
	s.replies.mu.Lock()
	lists := make(map[string]bool, len(s.replies.lists))
	for k, v := range s.replies.lists {
		lists[k] = v
	}
	s.replies.mu.Unlock()
	names := make([]string, 0, len(lists))
	for name := range lists {
		names = append(names, name)
	}
	left := make(map[string]int64, len(names))
	for chunk := range slices.Chunk(names, 500) {
		pipe := s.rdb.Pipeline()
		cmds := make([]interface{ Val() int64 }, len(chunk))
		for i, name := range chunk {
			cmds[i] = pipe.LLen(ctx, name)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reply lists: %w", err)
		}
		for i, name := range chunk {
			left[name] = cmds[i].Val()
		}
	}
	replied := map[string]bool{} // request id → some list got its reply; present when one reached the stream
	for name, read := range lists {
		switch n := left[name]; {
		case read && n > 0:
			add("stream: %s: answered again after its reply was read (%d more)", name, n)
		case n > 1:
			add("stream: %s: %d replies to one attempt", name, n)
		}
		id := strings.TrimPrefix(name[:strings.LastIndexByte(name, ':')], "imperal:rpc:reply:")
		replied[id] = replied[id] || read || left[name] > 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, answered := range l.rpcCall {
		// A call none of whose attempts reached the stream (Redis was away
		// for all of them) was refused to its producer, not lost.
		if got, sent := replied[id]; sent && !answered && !got {
			add("stream: call %s was never answered", id)
		}
	}
	return nil
}

// checkMailboxes: what acknowledged writes did is in the mail-service's
// own mailboxes: each message moved out of the inbox is in its folder,
// each one starred is starred, each one read is read.
func checkMailboxes(ctx context.Context, s *system, l *load, add func(string, ...any)) error {
	type want struct {
		user, account, id, folder string
		starred, read             bool
	}
	var wants []want
	for _, u := range l.users {
		for _, account := range mailAccounts {
			for id, folder := range u.gone[account] {
				wants = append(wants, want{user: u.id, account: account, id: id, folder: folder})
			}
			for id := range u.starred[account] {
				wants = append(wants, want{user: u.id, account: account, id: id, starred: true})
			}
			for id := range u.read[account] {
				wants = append(wants, want{user: u.id, account: account, id: id, read: true})
			}
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, w := range wants {
		g.Go(func() error {
			var m struct {
				Folder  string `json:"folder"`
				Starred bool   `json:"starred"`
				Unread  bool   `json:"unread"`
			}
			if err := s.mailGet(gctx, "/v1/messages/"+url.PathEscape(w.id), url.Values{"user_id": {w.user}, "account_id": {w.account}}, &m); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case w.folder != "" && m.Folder != w.folder:
				add("mail-service: %s %s %s is in %q, an acknowledged write moved it to %q", w.user, w.account, w.id, m.Folder, w.folder)
			case w.starred && !m.Starred:
				add("mail-service: %s %s %s is not starred after an acknowledged star", w.user, w.account, w.id)
			case w.read && m.Unread:
				add("mail-service: %s %s %s is unread after an acknowledged read", w.user, w.account, w.id)
			}
			return nil
		})
	}
	return g.Wait()
}

// checkFailures: no host answered 5xx, and every attempt that failed did
// so during a fault (or its grace), with a retryable answer.
func checkFailures(l *load, add func(string, ...any)) {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	for _, f := range l.rec.failures {
		switch {
		case f.status >= 500:
			add("%7.1fs %s %s: a host answered HTTP %d (%s)", f.at.Seconds(), f.transport, f.function, f.status, f.code)
		case !f.retryable:
			add("%7.1fs %s %s: %s, not retryable", f.at.Seconds(), f.transport, f.function, f.code)
		case !l.inFault(f.began, f.at):
			add("%7.1fs %s %s: %s outside every fault", f.at.Seconds(), f.transport, f.function, f.code)
		}
	}
	if l.rec.dropped > 0 {
		add("%d more failures than the %d kept", l.rec.dropped, maxFailures)
	}
}

// mailGet reads a mail-service endpoint's JSON into v.
func (s *system) mailGet(ctx context.Context, path string, q url.Values, v any) error {
	u := "http://" + s.mailAddr + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("mail-service %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mail-service %s: status %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metric reads a gauge or counter of replica r's /metrics, summed over
// its labels.
func (s *system) metric(r *replica, name string) (float64, error) {
	resp, err := s.http.Get(r.url() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum, sc.Err()
}
