package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/imperalcloud/exthost/internal/fastrpc"
)

// appID is the extension the load calls.
const appID = "mail-client"

// rpcWait bounds how long a stream call's reply is waited for: a call
// left by a killed worker is claimed after claimIdle and then runs.
const rpcWait = claimIdle + callTimeout + 12*time.Second

// call is one logical call: every attempt of it carries the same request
// id (the corr_id on the stream), so a retried send is sent once.
type call struct {
	user, function, requestID string
	params                    map[string]any
	confirmationToken         string
}

// paramsWithToken is the parameters with the confirmation token among
// them, as MCP and the stream carry it (the HTTP API beside them).
func (c call) paramsWithToken() map[string]any {
	if c.confirmationToken == "" {
		return c.params
	}
	params := maps.Clone(c.params)
	params["confirmation_token"] = c.confirmationToken
	return params
}

// actionResult is the part of an ActionResult the load reads.
type actionResult struct {
	Status    string          `json:"status"`
	Summary   string          `json:"summary"`
	Data      json.RawMessage `json:"data"`
	ErrorCode string          `json:"error_code"`
	Retryable bool            `json:"retryable"`
}

// attemptError is an attempt that brought no result: the replica went
// away, the host answered an HTTP error, or no reply came.
type attemptError struct {
	code      string
	retryable bool
	status    int
}

func (e *attemptError) Error() string { return e.code }

// attempt makes one attempt of c over transport, at replica r for the HTTP
// transports; the RPC attempt names its own reply list.
func (s *system) attempt(ctx context.Context, transport string, r *replica, c call, n int) (actionResult, error) {
	switch transport {
	case overMCP:
		return s.overMCP(ctx, r, c)
	case overRPC:
		return s.overRPC(ctx, c, n)
	default:
		return s.overHTTP(ctx, r, c)
	}
}

func (s *system) overHTTP(ctx context.Context, r *replica, c call) (actionResult, error) {
	body := map[string]any{"user_id": c.user, "tenant_id": "default", "function": c.function, "params": c.params}
	if c.confirmationToken != "" {
		body["confirmation_token"] = c.confirmationToken
	}
	raw, status, err := s.post(ctx, r.url()+"/v1/extensions/"+appID+"/call", body, map[string]string{"X-Request-ID": c.requestID})
	if err != nil {
		return actionResult{}, err
	}
	var res actionResult
	if err := json.Unmarshal(raw, &res); err != nil || res.Status == "" {
		return actionResult{}, &attemptError{code: "HTTP " + strconv.Itoa(status) + " without an ActionResult", status: status}
	}
	if status != http.StatusOK {
		// A rejection before the call ran (429 at the concurrency limit,
		// 503 while draining) carries its ActionResult and retryable.
		return actionResult{}, &attemptError{code: "HTTP " + strconv.Itoa(status) + " " + res.ErrorCode, retryable: res.Retryable, status: status}
	}
	return res, nil
}

func (s *system) overMCP(ctx context.Context, r *replica, c call) (actionResult, error) {
	body := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": appID + "__" + c.function, "arguments": c.paramsWithToken()}}
	raw, status, err := s.post(ctx, r.url()+"/mcp", body, map[string]string{
		"X-Request-ID": c.requestID, "X-User-ID": c.user, "Accept": "application/json, text/event-stream",
	})
	if err != nil {
		return actionResult{}, err
	}
	var rpc struct {
		Result *struct {
			Structured actionResult `json:"structuredContent"`
		} `json:"result"`
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &rpc) != nil || status != http.StatusOK {
		return actionResult{}, &attemptError{code: "MCP HTTP " + strconv.Itoa(status), status: status,
			retryable: status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable}
	}
	if rpc.Error != nil || rpc.Result == nil || rpc.Result.Structured.Status == "" {
		code := "MCP answer without a result"
		if rpc.Error != nil {
			code = "MCP JSON-RPC error " + strconv.Itoa(rpc.Error.Code)
		}
		return actionResult{}, &attemptError{code: code, status: status}
	}
	return rpc.Result.Structured, nil
}

func (s *system) overRPC(ctx context.Context, c call, n int) (actionResult, error) {
	raw, _ := json.Marshal(c.paramsWithToken())
	pending, err := s.rpc.Send(ctx, fastrpc.Call{
		AppID: appID, Function: c.function, Params: raw, UserID: c.user, CorrID: c.requestID,
		ReplyList: fmt.Sprintf("%s%s:%d", fastrpc.ReplyListPrefix, c.requestID, n), Deadline: time.Now().Add(rpcWait),
	})
	if err != nil {
		return actionResult{}, &attemptError{code: "stream unreachable", retryable: true}
	}
	s.replies.named(pending.ReplyList)
	var reply fastrpc.Reply
	for {
		reply, err = s.rpc.Wait(ctx, pending)
		if err == nil || errors.Is(err, fastrpc.ErrNoReply) || ctx.Err() != nil || time.Now().After(pending.Deadline) {
			break
		}
		// Redis went away while waiting: the reply, when it comes, is
		// still on its list.
		time.Sleep(100 * time.Millisecond) // a reconnect's backoff
	}
	switch {
	case errors.Is(err, fastrpc.ErrNoReply):
		return actionResult{}, &attemptError{code: "no reply", retryable: true}
	case err != nil:
		return actionResult{}, &attemptError{code: "stream unreachable", retryable: true}
	case reply.Error != nil:
		return actionResult{}, &attemptError{code: "rpc " + string(reply.Error.Category), retryable: reply.Error.Retryable}
	}
	s.replies.read(pending.ReplyList)
	var res actionResult
	if json.Unmarshal(reply.Result, &res) != nil || res.Status == "" {
		return actionResult{}, &attemptError{code: "rpc reply without an ActionResult"}
	}
	return res, nil
}

// replyBook is every reply list a stream attempt named, and whether its
// reply was read: at the end, a list holds no reply left unread when its
// reply was read, and at most one otherwise.
type replyBook struct {
	mu    sync.Mutex
	lists map[string]bool
}

func (b *replyBook) named(list string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists[list] = false
}

func (b *replyBook) read(list string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists[list] = true
}

// post sends body as JSON and returns the answer's body and status; an
// answer that never came is an attemptError (retryable: the orchestrator
// tries the other replica).
func (s *system) post(ctx context.Context, url string, body any, header map[string]string) ([]byte, int, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, 0, &attemptError{code: "no answer (replica away)", retryable: true}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, &attemptError{code: "answer cut short", retryable: true, status: resp.StatusCode}
	}
	return out, resp.StatusCode, nil
}
