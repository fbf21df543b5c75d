package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// TestRedisCluster runs two hosts on a three-master Redis Cluster started by
// the test, configured through cache.redis.addrs: hits across the hosts,
// invalidation by one seen by the other, one DEL removing a user's entries of
// two models (the hash tag puts them in one slot), a token replay refused
// across the hosts, and events published.
func TestRedisCluster(t *testing.T) {
	cluster := testredis.StartCluster(t)
	var inboxRequests atomic.Int64
	reference := mailservice.New(mailservice.Options{})
	mail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/inbox" {
			inboxRequests.Add(1)
		}
		reference.ServeHTTP(w, r)
	}))
	defer mail.Close()
	replicaOnCluster := func() *httptest.Server {
		cfg := config.Default()
		cfg.Auth = config.Auth{Mode: config.AuthCallToken, Secrets: []string{"current"}}
		cfg.Cache.Backend = config.BackendRedis
		cfg.Cache.Redis.URL = ""
		cfg.Cache.Redis.Addrs = cluster.Addrs
		cfg.Services = map[string]string{"mail-service": mail.URL}
		_, srv := serveHost(t, cfg, zap.NewNop())
		return srv
	}
	a, b := replicaOnCluster(), replicaOnCluster()
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: cluster.Addrs, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()

	user, tenant := testredis.UniqueID(t), testredis.UniqueID(t)
	url := func(s *httptest.Server) string { return s.URL + "/v1/extensions/mail-client/call" }
	call := func(s *httptest.Server, function, params string, header map[string]string) (int, string) {
		return post(t, url(s), `{"user_id":"`+user+`","tenant_id":"`+tenant+`","function":"`+function+`","params":`+params+`}`, header)
	}

	status, first := call(a, "list_inbox", `{"account_id":"work"}`, mintFor(user, "current"))
	if status != 200 || !strings.HasPrefix(first, `{"status":"success"`) {
		t.Fatalf("list_inbox on A = %d %s", status, first)
	}
	if status, second := call(b, "list_inbox", `{"account_id":"work"}`, mintFor(user, "current")); status != 200 || second != first {
		t.Fatalf("list_inbox on B = %d, want A's entry", status)
	}
	if n := inboxRequests.Load(); n != 1 {
		t.Fatalf("%d inbox requests upstream, want 1: B must hit A's entry on the cluster", n)
	}
	call(a, "get_unread_summary", `{}`, mintFor(user, "current"))
	inboxKey := cache.StorageKey("mail-client", user, "inbox_page", "inbox:work:INBOX:0")
	unreadKey := cache.StorageKey("mail-client", user, "unread_summary", "unread:"+user)
	slotA, _ := rdb.ClusterKeySlot(ctx, inboxKey).Result()
	slotB, _ := rdb.ClusterKeySlot(ctx, unreadKey).Result()
	if n, err := rdb.Exists(ctx, inboxKey, unreadKey).Result(); err != nil || n != 2 || slotA != slotB {
		t.Fatalf("entries before the write: %d (%v), slots %d and %d; want both, in one slot", n, err, slotA, slotB)
	}

	sub := rdb.Subscribe(ctx, "imperal:events:"+tenant)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	archived := firstMessageID(t, first)
	if status, body := call(b, "archive_message", `{"account_id":"work","message_id":"`+archived+`"}`, mintFor(user, "current")); status != 200 {
		t.Fatalf("archive on B = %d %s", status, body)
	}
	if n, _ := rdb.Exists(ctx, inboxKey, unreadKey).Result(); n != 0 {
		t.Fatalf("%d entries survive the write's one DEL", n)
	}
	testkit.WaitFor(t, 2*time.Second, "A to drop the page B's write made stale", func() bool {
		_, after := call(a, "list_inbox", `{"account_id":"work"}`, mintFor(user, "current"))
		return !strings.Contains(after, `"id":"`+archived+`"`)
	})
	msgCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(msgCtx)
	var ev events.Event
	if err != nil || json.Unmarshal([]byte(msg.Payload), &ev) != nil || ev.EventType != "email.archived" || ev.UserID != user {
		t.Fatalf("event on the cluster: %v %v", msg, err)
	}

	header := mintFor(user, "current")
	if status, _ := call(a, "list_inbox", `{"account_id":"work"}`, header); status != 200 {
		t.Fatalf("a fresh token on A = %d", status)
	}
	if status, body := call(b, "list_inbox", `{"account_id":"work"}`, header); status != 401 || !strings.Contains(body, "replayed") {
		t.Fatalf("the same token on B = %d %s, want 401 replayed", status, body)
	}
}
