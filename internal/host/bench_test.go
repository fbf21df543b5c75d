package host_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// BenchmarkServeListInboxHit is one cache-hit list_inbox call through the
// whole HTTP handler (routing, envelope, dispatch, cache, encoding), without
// the network: the host's own CPU per call. `make profile` profiles it.
func BenchmarkServeListInboxHit(b *testing.B) {
	for _, backend := range []string{config.BackendMemory, config.BackendRedis} {
		b.Run(backend, func(b *testing.B) {
			mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
			defer mail.Close()
			cfg := config.Default()
			cfg.Console.Enabled = false // the production path: no console records the calls
			cfg.Services = map[string]string{"mail-service": mail.URL}
			cfg.Cache.Backend = backend
			user := "bench"
			if backend == config.BackendRedis {
				testredis.Client(b)
				cfg.Cache.Redis.URL = testredis.URL()
				user = testredis.UniqueID(b)
			}
			_, srv := serveHost(b, cfg, zap.NewNop())
			handler := srv.Config.Handler
			body := `{"user_id":"` + user + `","function":"list_inbox","params":{"account_id":"work"}}`
			serve := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/extensions/mail-client/call", strings.NewReader(body)))
				return rec
			}
			if rec := serve(); rec.Code != 200 {
				b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rec := serve(); rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
