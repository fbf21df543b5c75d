package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/notify"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("east", 3*3600))

// recorder records the notifications it is given and what it is told to count.
type recorder struct {
	mu      sync.Mutex
	notes   []events.Notification
	sent    int
	dropped int
}

func (r *recorder) Notify(n events.Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
}

func (r *recorder) Notification(sent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sent {
		r.sent++
	} else {
		r.dropped++
	}
}

func (r *recorder) snapshot() (notes []events.Notification, sent, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Notification(nil), r.notes...), r.sent, r.dropped
}

// newSender returns a Sender to a fresh recorder (which is also its
// Observer) on a fixed clock, closed when the test ends.
func newSender(t *testing.T, perMinute float64, burst int) (*notify.Sender, *recorder, *clock.Clock) {
	t.Helper()
	rec := &recorder{}
	clk := clock.Fixed(start)
	s, err := notify.New(notify.Options{PerMinute: perMinute, Burst: burst, To: rec, Now: clk.Now, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rec, clk
}

func call(app, user, tenant string) *ctx.Call {
	return ctx.NewCall(context.Background(), ctx.Setup{AppID: app, User: ctx.User{ImperalID: user, TenantID: tenant}})
}

func TestNewNeedsANotifier(t *testing.T) {
	if s, err := notify.New(notify.Options{}); err == nil {
		s.Close()
		t.Fatal("New with no notifier succeeded")
	}
}

type mailData struct {
	Count  int    `json:"count"`
	Folder string `json:"folder,omitempty"`
	Skip   string `json:"-"`
}

// A notification that passes goes out once, as the envelope of its call:
// the caller, the extension, the message, the data as a JSON object and
// the clock's time in UTC.
func TestNotificationEnvelopeComesFromTheCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		data any
		want string // the envelope's data
	}{
		{"nil", nil, `{}`},
		{"nil_map", map[string]any(nil), `{}`},
		{"nil_pointer", (*mailData)(nil), `{}`},
		{"empty_map", map[string]int{}, `{}`},
		{"map", map[string]any{"count": 3, "folder": "INBOX"}, `{"count":3,"folder":"INBOX"}`},
		{"nested_map", map[string]any{"a": map[string]any{"b": []int{1, 2}}}, `{"a":{"b":[1,2]}}`},
		{"struct", mailData{Count: 3, Folder: "INBOX", Skip: "x"}, `{"count":3,"folder":"INBOX"}`},
		{"struct_pointer", &mailData{Count: 1}, `{"count":1}`},
		{"raw_message", json.RawMessage(`{"x": [1, 2]}`), `{"x":[1,2]}`},
		{"html_and_non_ascii", map[string]string{"s": "<a>&é😀"}, `{"s":"<a>&é😀"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec, _ := newSender(t, 60, 2)
			if err := s.Notify(call("mail-client", "ann", "acme"), "You have mail", tc.data); err != nil {
				t.Fatal(err)
			}
			notes, sent, dropped := rec.snapshot()
			if len(notes) != 1 || sent != 1 || dropped != 0 {
				t.Fatalf("%d notifications, %d sent, %d dropped", len(notes), sent, dropped)
			}
			n := notes[0]
			if n.UserID != "ann" || n.TenantID != "acme" || n.SourceApp != "mail-client" ||
				n.Message != "You have mail" || n.Timestamp != "2026-01-02T00:04:05.6Z" {
				t.Fatalf("envelope %+v", n)
			}
			if string(n.Data) != tc.want {
				t.Fatalf("data %s, want %s", n.Data, tc.want)
			}
			if _, err := n.Encode(); err != nil {
				t.Fatalf("the envelope does not encode: %v", err)
			}
		})
	}
}

// A notification the Sender refuses is not sent, not counted, and takes
// nothing from the user's rate.
func TestInvalidNotificationsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		message string
		data    any
	}{
		{"slice", "m", []int{1, 2}},
		{"empty_slice", "m", []string{}},
		{"string", "m", "hello"},
		{"number", "m", 42},
		{"bool", "m", true},
		{"raw_array", "m", json.RawMessage(`[1]`)},
		{"raw_string", "m", json.RawMessage(`"x"`)},
		{"unencodable", "m", map[string]any{"f": func() {}}},
		{"channel", "m", make(chan int)},
		{"message_too_long", strings.Repeat("x", 4097), nil},
		{"message_too_long_multibyte", strings.Repeat("é", 2049), map[string]int{"a": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec, _ := newSender(t, 60, 1)
			c := call("mail-client", "ann", "acme")
			err := s.Notify(c, tc.message, tc.data)
			if err == nil || errors.Is(err, notify.ErrRateLimited) {
				t.Fatalf("Notify = %v, want a refusal", err)
			}
			if notes, sent, dropped := rec.snapshot(); len(notes) != 0 || sent != 0 || dropped != 0 {
				t.Fatalf("refused, yet %d notifications, %d sent, %d dropped", len(notes), sent, dropped)
			}
			// Burst 1: the refusal took no token, so a valid one still passes.
			if err := s.Notify(c, "ok", nil); err != nil {
				t.Fatalf("a valid notification after a refusal: %v", err)
			}
		})
	}
}

// A message of exactly the limit passes.
func TestMessageAtTheLimitIsSent(t *testing.T) {
	s, rec, _ := newSender(t, 0, 0)
	msg := strings.Repeat("x", 4096)
	if err := s.Notify(call("app", "ann", "acme"), msg, nil); err != nil {
		t.Fatal(err)
	}
	if notes, _, _ := rec.snapshot(); len(notes) != 1 || notes[0].Message != msg {
		t.Fatalf("%d notifications", len(notes))
	}
}

// Each tenant's user has a token bucket: Burst at once, then PerMinute.
func TestRateLimitPerTenantAndUser(t *testing.T) {
	s, rec, clk := newSender(t, 60, 2)
	ann := call("mail-client", "ann", "acme")
	step := func(name string, c *ctx.Call, want error, wantSent, wantDropped int) {
		t.Helper()
		if err := s.Notify(c, name, nil); !errors.Is(err, want) {
			t.Fatalf("%s: Notify = %v, want %v", name, err, want)
		}
		notes, sent, dropped := rec.snapshot()
		if len(notes) != wantSent || sent != wantSent || dropped != wantDropped {
			t.Fatalf("%s: %d notifications, %d sent, %d dropped; want %d sent, %d dropped",
				name, len(notes), sent, dropped, wantSent, wantDropped)
		}
		if want == nil && notes[len(notes)-1].Message != name {
			t.Fatalf("%s: the last notification sent is %q", name, notes[len(notes)-1].Message)
		}
	}
	step("first", ann, nil, 1, 0)
	step("second", ann, nil, 2, 0)
	step("third", ann, notify.ErrRateLimited, 2, 1)
	step("fourth", ann, notify.ErrRateLimited, 2, 2)
	// Other users are held to their own buckets: another user of the
	// tenant, and the same user id in another tenant. The bucket is the
	// user's, not the extension's: another extension's notifications to
	// ann share it.
	step("bob", call("mail-client", "bob", "acme"), nil, 3, 2)
	step("ann_elsewhere", call("mail-client", "ann", "globex"), nil, 4, 2)
	step("ann_elsewhere_2", call("mail-client", "ann", "globex"), nil, 5, 2)
	step("ann_elsewhere_3", call("mail-client", "ann", "globex"), notify.ErrRateLimited, 5, 3)
	step("ann_other_app", call("calendar", "ann", "acme"), notify.ErrRateLimited, 5, 4)
	// A second at 60 a minute earns one more.
	if _, err := clk.Advance(time.Second); err != nil {
		t.Fatal(err)
	}
	step("after_1s", ann, nil, 6, 4)
	step("after_1s_again", ann, notify.ErrRateLimited, 6, 5)
	// Half a second more earns nothing yet; the other half does.
	if _, err := clk.Advance(500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	step("after_1.5s", ann, notify.ErrRateLimited, 6, 6)
	if _, err := clk.Advance(500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	step("after_2s", ann, nil, 7, 6)
	// A long idle refills the bucket to its burst, no more.
	if _, err := clk.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	step("after_idle_1", ann, nil, 8, 6)
	step("after_idle_2", ann, nil, 9, 6)
	step("after_idle_3", ann, notify.ErrRateLimited, 9, 7)
	notes, _, _ := rec.snapshot()
	if got := notes[len(notes)-1].Timestamp; got != "2026-01-02T01:04:07.6Z" {
		t.Fatalf("timestamp %s after the clock advanced", got)
	}
}

// Burst defaults to 10.
func TestDefaultBurst(t *testing.T) {
	s, rec, _ := newSender(t, 60, 0)
	c := call("app", "ann", "acme")
	for i := range 10 {
		if err := s.Notify(c, "m", nil); err != nil {
			t.Fatalf("notification %d: %v", i+1, err)
		}
	}
	if err := s.Notify(c, "m", nil); !errors.Is(err, notify.ErrRateLimited) {
		t.Fatalf("the 11th: %v", err)
	}
	if _, sent, dropped := rec.snapshot(); sent != 10 || dropped != 1 {
		t.Fatalf("%d sent, %d dropped", sent, dropped)
	}
}

// PerMinute 0 sends every notification.
func TestNoRateLimit(t *testing.T) {
	s, rec, _ := newSender(t, 0, 2)
	c := call("app", "ann", "acme")
	for i := range 100 {
		if err := s.Notify(c, "m", map[string]int{"i": i}); err != nil {
			t.Fatalf("notification %d: %v", i+1, err)
		}
	}
	if notes, sent, dropped := rec.snapshot(); len(notes) != 100 || sent != 100 || dropped != 0 {
		t.Fatalf("%d notifications, %d sent, %d dropped", len(notes), sent, dropped)
	}
}

// Without an Observer nothing is counted, and nothing breaks.
func TestNoObserver(t *testing.T) {
	rec := &recorder{}
	clk := clock.Fixed(start)
	s, err := notify.New(notify.Options{PerMinute: 60, Burst: 1, To: rec, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := call("app", "ann", "acme")
	if err := s.Notify(c, "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(c, "m", nil); !errors.Is(err, notify.ErrRateLimited) {
		t.Fatal(err)
	}
}

// The Sender is a ctx.Notifier: a call's Notify goes through it.
func TestCallNotifyUsesTheSender(t *testing.T) {
	s, rec, _ := newSender(t, 60, 1)
	var _ ctx.Notifier = s
	c := ctx.NewCall(context.Background(), ctx.Setup{AppID: "mail-client", Notifier: s,
		User: ctx.User{ImperalID: "ann", TenantID: "acme"}})
	if err := c.Notify("hi", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify("hi", nil); !errors.Is(err, notify.ErrRateLimited) {
		t.Fatalf("second: %v", err)
	}
	if notes, _, _ := rec.snapshot(); len(notes) != 1 || notes[0].SourceApp != "mail-client" || string(notes[0].Data) != `{"n":1}` {
		t.Fatalf("notifications %+v", notes)
	}
}

// Concurrent notifications of one user never pass more than the burst at
// a fixed clock.
func TestConcurrentNotificationsKeepTheBurst(t *testing.T) {
	s, rec, _ := newSender(t, 60, 5)
	c := call("app", "ann", "acme")
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Notify(c, "m", nil)
		}()
	}
	wg.Wait()
	if notes, sent, dropped := rec.snapshot(); len(notes) != 5 || sent != 5 || dropped != 45 {
		t.Fatalf("%d notifications, %d sent, %d dropped", len(notes), sent, dropped)
	}
}

// Close is safe on a Sender without a rate limit, and twice.
func TestCloseTwice(t *testing.T) {
	for _, perMinute := range []float64{0, 60} {
		s, err := notify.New(notify.Options{PerMinute: perMinute, To: &recorder{}})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
	}
}
