// Package notify sends the notifications of calls (DESIGN §13, the SDK's
// ctx.notify): it builds the envelope from the call, holds each user to a
// rate (a token bucket per tenant and user), and hands what passes to the
// host's notifiers — Redis's imperal:notify:<tenant_id> and the in-process
// log.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/jsonx"
)

// ErrRateLimited is Notify's answer for a notification over the user's rate.
var ErrRateLimited = errors.New("notify: the user's notification rate is exceeded; dropped")

// maxMessageBytes bounds a notification's message.
const maxMessageBytes = 4096

// users bounds how many users' buckets are kept; an idle one is dropped
// after idle (a full bucket is what a new one is anyway).
const (
	users = 100_000
	idle  = 10 * time.Minute
)

// Options configures a Sender.
type Options struct {
	// PerMinute is the rate a user's notifications may keep up; 0 sends
	// every one.
	PerMinute float64
	// Burst is how many may come at once. Default 10.
	Burst int
	// To receives the notifications that pass. Required.
	To events.Notifier
	// Now is the clock of the buckets and envelopes. Default time.Now.
	Now func() time.Time
	// Observer counts what is sent and dropped. Default: none.
	Observer Observer
}

// Observer is told what metrics count.
type Observer interface {
	// Notification is called for each notification: sent, or dropped.
	Notification(sent bool)
}

// Sender sends notifications; it implements ctx.Notifier.
type Sender struct {
	opts    Options
	buckets *otter.Cache[string, *rate.Limiter]
}

// New returns a Sender for opts.
func New(opts Options) (*Sender, error) {
	if opts.To == nil {
		return nil, errors.New("notify: no notifier")
	}
	if opts.Burst <= 0 {
		opts.Burst = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sender{opts: opts}
	if opts.PerMinute > 0 {
		buckets, err := otter.New(&otter.Options[string, *rate.Limiter]{
			MaximumSize:      users,
			ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](idle),
			Clock:            clock.Func(opts.Now),
		})
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		s.buckets = buckets
	}
	return s, nil
}

// Notify implements ctx.Notifier: a notification from c's extension to
// c's user. Data must encode as a JSON object (nil is {}).
func (s *Sender) Notify(c *ctx.Call, message string, data any) error {
	raw, err := jsonx.Marshal(data)
	switch {
	case err != nil:
		return fmt.Errorf("notify: data: %w", err)
	case string(raw) == "null":
		raw = []byte(`{}`)
	case raw[0] != '{':
		return fmt.Errorf("notify: data %T does not encode as a JSON object", data)
	}
	if len(message) > maxMessageBytes {
		return fmt.Errorf("notify: the message is longer than %d bytes", maxMessageBytes)
	}
	user := c.User()
	now := s.opts.Now()
	if !s.allow(user.TenantID+"\x00"+user.ImperalID, now) {
		s.observe(false)
		return ErrRateLimited
	}
	s.opts.To.Notify(events.Notification{
		UserID: user.ImperalID, TenantID: user.TenantID, SourceApp: c.AppID(), Message: message, Data: raw,
		Timestamp: now.UTC().Format(time.RFC3339Nano),
	})
	s.observe(true)
	return nil
}

func (s *Sender) allow(user string, now time.Time) bool {
	if s.buckets == nil {
		return true
	}
	bucket, _ := s.buckets.Get(context.Background(), user, otter.LoaderFunc[string, *rate.Limiter](
		func(_ context.Context, _ string) (*rate.Limiter, error) {
			return rate.NewLimiter(rate.Limit(s.opts.PerMinute/60), s.opts.Burst), nil
		}))
	return bucket.AllowN(now, 1)
}

func (s *Sender) observe(sent bool) {
	if s.opts.Observer != nil {
		s.opts.Observer.Notification(sent)
	}
}

// Close releases the Sender's resources.
func (s *Sender) Close() {
	if s.buckets != nil {
		s.buckets.StopAllGoroutines()
	}
}
