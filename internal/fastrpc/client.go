package fastrpc

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplyListPrefix is where the platform's replies go: the list of a call
// is ReplyListPrefix + its corr_id.
const ReplyListPrefix = "imperal:rpc:reply:"

// Call is one call as a producer sends it.
type Call struct {
	AppID, Function string
	// Params is the parameters object; nil sends {}.
	Params                        json.RawMessage
	UserID, TenantID, Email, Role string
	Scopes                        []string
	// CorrID identifies the call; a random one when empty.
	CorrID string
	// ReplyList is where the reply goes; ReplyListPrefix + CorrID when
	// empty.
	ReplyList string
	// Deadline is when the producer stops waiting; ten seconds from now
	// when zero.
	Deadline time.Time
}

// Pending is a call sent and not yet answered.
type Pending struct {
	CorrID, ReplyList string
	Deadline          time.Time
}

// Client sends calls to a stream and waits for their replies, as the
// platform does: for tests, load programs and tools.
type Client struct {
	rdb    redis.UniversalClient
	stream string
}

// NewClient returns a client of stream (DefaultStream when empty).
func NewClient(rdb redis.UniversalClient, stream string) *Client {
	return &Client{rdb: rdb, stream: cmp.Or(stream, DefaultStream)}
}

// wireCall is a request envelope, in the SDK model's field order.
type wireCall struct {
	V             int             `json:"v"`
	CorrID        string          `json:"corr_id"`
	UserID        string          `json:"user_id"`
	TenantID      string          `json:"tenant_id"`
	AgencyID      *string         `json:"agency_id"`
	Email         string          `json:"email"`
	Role          string          `json:"role"`
	Scopes        []string        `json:"scopes"`
	Attributes    json.RawMessage `json:"attributes"`
	AppID         string          `json:"app_id"`
	Function      string          `json:"function"`
	Params        json.RawMessage `json:"params"`
	ReplyList     string          `json:"reply_list"`
	DeadlineNs    int64           `json:"deadline_ns"`
	SubmittedAtNs int64           `json:"submitted_at_ns"`
}

// Send adds call to the stream.
func (c *Client) Send(ctx context.Context, call Call) (Pending, error) {
	now := time.Now()
	w := wireCall{
		V: EnvelopeVersion, CorrID: cmp.Or(call.CorrID, "c-"+crand.Text()), UserID: call.UserID,
		TenantID: cmp.Or(call.TenantID, "default"), Email: call.Email, Role: call.Role, Scopes: call.Scopes,
		Attributes: json.RawMessage(`{}`), AppID: call.AppID, Function: call.Function, Params: call.Params,
		SubmittedAtNs: now.UnixNano(),
	}
	if w.Scopes == nil {
		w.Scopes = []string{}
	}
	if w.Params == nil {
		w.Params = json.RawMessage(`{}`)
	}
	w.ReplyList = cmp.Or(call.ReplyList, ReplyListPrefix+w.CorrID)
	deadline := call.Deadline
	if deadline.IsZero() {
		deadline = now.Add(10 * time.Second)
	}
	w.DeadlineNs = deadline.UnixNano()
	payload, err := json.Marshal(w)
	if err != nil {
		return Pending{}, fmt.Errorf("fastrpc: call: %w", err)
	}
	if err := c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.stream, Values: []any{"payload", payload}}).Err(); err != nil {
		return Pending{}, fmt.Errorf("fastrpc: send: %w", err)
	}
	return Pending{CorrID: w.CorrID, ReplyList: w.ReplyList, Deadline: deadline}, nil
}

// ErrNoReply is Wait's error when the deadline passed with no reply.
var ErrNoReply = errors.New("fastrpc: no reply by the deadline")

// Wait waits for the reply of p until its deadline, and a second more.
func (c *Client) Wait(ctx context.Context, p Pending) (Reply, error) {
	wait := time.Until(p.Deadline) + time.Second
	out, err := c.rdb.BRPop(ctx, max(wait, time.Second), p.ReplyList).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return Reply{}, ErrNoReply
	case err != nil:
		return Reply{}, fmt.Errorf("fastrpc: wait: %w", err)
	}
	var reply Reply
	if err := json.Unmarshal([]byte(out[1]), &reply); err != nil {
		return Reply{}, fmt.Errorf("fastrpc: reply: %w", err)
	}
	return reply, nil
}

// Do sends call and waits for its reply.
func (c *Client) Do(ctx context.Context, call Call) (Reply, error) {
	p, err := c.Send(ctx, call)
	if err != nil {
		return Reply{}, err
	}
	return c.Wait(ctx, p)
}
