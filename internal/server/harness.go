package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// Harness is what the harness endpoints drive, for tests written in any
// language. A server without one serves no /v1/harness/ route.
type Harness interface {
	// Now returns the host's time.
	Now() time.Time
	// Advance moves the host's clock forward by d and returns the new time.
	Advance(d time.Duration) (time.Time, error)
	// Calls returns up to limit recent call traces, newest first; limit
	// <= 0 means every kept one.
	Calls(limit int) []dispatch.Trace
	// Events returns up to limit recent events, newest first; limit <= 0
	// means every kept one.
	Events(limit int) []events.Event
	// Notifications returns up to limit recent notifications, newest
	// first; limit <= 0 means every kept one.
	Notifications(limit int) []events.Notification
	// PurgeCache drops the cache entries of userID, or of every user when
	// it is empty, and returns how many it dropped.
	PurgeCache(ctx context.Context, userID string) (int, error)
	// Documents lists userID's store documents in every served extension.
	Documents(ctx context.Context, userID string) ([]store.Stored, error)
	// SeedDocument writes one store document of app's userID.
	SeedDocument(ctx context.Context, app, userID, collection, id string, data json.RawMessage) (store.Stored, error)
	// ClearStore removes userID's store documents and returns how many.
	ClearStore(ctx context.Context, userID string) (int, error)
}

func (s *Server) routeHarness(e *echo.Echo, h Harness) {
	g := e.Group("/v1/harness")
	g.GET("/clock", func(c echo.Context) error { return s.answerClock(c, h.Now()) })
	g.POST("/clock", func(c echo.Context) error {
		body, rej := s.readBody(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		var req struct {
			Advance string `json:"advance"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "The body must be {\"advance\": \"<duration>\"}.")
		}
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "advance is not a duration such as \"61s\" or \"5m\".")
		}
		now, err := h.Advance(d)
		if err != nil {
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "advance: the clock only moves forward.")
		}
		return s.answerClock(c, now)
	})
	g.GET("/calls", func(c echo.Context) error {
		limit, rej := limitParam(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		traces := h.Calls(limit)
		calls := make([]traceJSON, len(traces))
		for i, tr := range traces {
			calls[i] = newTraceJSON(tr)
		}
		return s.answerJSON(c, struct {
			Calls []traceJSON `json:"calls"`
		}{calls})
	})
	g.GET("/events", func(c echo.Context) error {
		limit, rej := limitParam(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		return s.answerJSON(c, struct {
			Events []events.Event `json:"events"`
		}{h.Events(limit)})
	})
	g.GET("/notifications", func(c echo.Context) error {
		limit, rej := limitParam(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		notes := h.Notifications(limit)
		if notes == nil {
			notes = []events.Notification{}
		}
		return s.answerJSON(c, struct {
			Notifications []events.Notification `json:"notifications"`
		}{notes})
	})
	g.GET("/store", func(c echo.Context) error {
		user, rej := storeUser(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		docs, err := h.Documents(c.Request().Context(), user)
		if err != nil {
			return s.storeFailed(c, err)
		}
		if docs == nil {
			docs = []store.Stored{}
		}
		return s.answerJSON(c, struct {
			Documents []store.Stored `json:"documents"`
		}{docs})
	})
	g.POST("/store", func(c echo.Context) error {
		body, rej := s.readBody(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		var req struct {
			App        string          `json:"app"`
			UserID     string          `json:"user_id"`
			Collection string          `json:"collection"`
			ID         string          `json:"id"`
			Data       json.RawMessage `json:"data"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || dec.More() || req.App == "" || req.UserID == "" || req.Collection == "" || req.ID == "" {
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest,
				"The body must be {\"app\", \"user_id\", \"collection\", \"id\", \"data\": {…}}.")
		}
		doc, err := h.SeedDocument(c.Request().Context(), req.App, req.UserID, req.Collection, req.ID, req.Data)
		if err != nil {
			return s.storeFailed(c, err)
		}
		return s.answerJSON(c, doc)
	})
	g.DELETE("/store", func(c echo.Context) error {
		user, rej := storeUser(c)
		if rej != nil {
			return s.refuse(c, rej)
		}
		removed, err := h.ClearStore(c.Request().Context(), user)
		if err != nil {
			return s.storeFailed(c, err)
		}
		return s.answerJSON(c, struct {
			Removed int `json:"removed"`
		}{removed})
	})
	g.DELETE("/cache", func(c echo.Context) error {
		user := c.QueryParam("user_id")
		if user == "" && c.QueryParams().Has("user_id") {
			// Most likely an unset variable in the client: not "every user".
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "user_id is empty; leave it out to drop every user's entries.")
		}
		removed, err := h.PurgeCache(c.Request().Context(), user)
		if err != nil {
			s.log.Warn("harness cache purge failed", zap.Error(err))
			return s.reject(c, http.StatusServiceUnavailable, runtime.CodeUnavailable, "The cache backend could not be purged; retry.")
		}
		return s.answerJSON(c, struct {
			Removed int `json:"removed"`
		}{removed})
	})
}

func (s *Server) answerClock(c echo.Context, now time.Time) error {
	return s.answerJSON(c, struct {
		Now string `json:"now"`
	}{now.UTC().Format(time.RFC3339Nano)})
}

func (s *Server) answerJSON(c echo.Context, v any) error {
	out, err := jsonx.Marshal(v)
	if err != nil {
		return s.writeResult(c, http.StatusInternalServerError, dispatch.InternalError())
	}
	return c.JSONBlob(http.StatusOK, out)
}

// limitParam reads ?limit=N: absent means every kept item.
func limitParam(c echo.Context) (int, *rejection) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, badRequest("limit is not a positive whole number.")
	}
	return n, nil
}

// storeUser is the user_id the store endpoints require.
func storeUser(c echo.Context) (string, *rejection) {
	if user := c.QueryParam("user_id"); user != "" {
		return user, nil
	}
	return "", badRequest("user_id is required.")
}

// storeFailed answers a harness store operation that failed: the test's
// mistake (400) or the store's outage (503).
func (s *Server) storeFailed(c echo.Context, err error) error {
	var limit *store.LimitError
	switch {
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrUnstorable):
		return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "Not a document of a declared collection: check app, collection, id and that data is an object.")
	case errors.As(err, &limit):
		return s.reject(c, http.StatusBadRequest, runtime.CodeStoreLimit, "The document is over a store limit.")
	}
	s.log.Warn("harness store operation failed", zap.Error(err))
	return s.reject(c, http.StatusServiceUnavailable, runtime.CodeStoreUnavailable, "The store did not answer; retry.")
}

// traceJSON is a call trace as the harness answers it.
type traceJSON struct {
	RequestID  string         `json:"request_id"`
	AppID      string         `json:"app_id"`
	Function   string         `json:"function"`
	UserID     string         `json:"user_id"`
	Status     runtime.Status `json:"status"`
	ErrorCode  string         `json:"error_code"`
	StartedAt  string         `json:"started_at"`
	DurationMS float64        `json:"duration_ms"`
	Cache      struct {
		Hits   int `json:"hits"`
		Misses int `json:"misses"`
	} `json:"cache"`
	Upstream []upstreamJSON `json:"upstream"`
	Store    []storeOpJSON  `json:"store"`
}

type storeOpJSON struct {
	Op         string  `json:"op"`
	Collection string  `json:"collection"`
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"duration_ms"`
}

type upstreamJSON struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Status  int    `json:"status"`
}

func newTraceJSON(tr dispatch.Trace) traceJSON {
	t := traceJSON{
		RequestID: tr.RequestID, AppID: tr.AppID, Function: tr.Function, UserID: tr.UserID,
		Status: tr.Status, ErrorCode: tr.ErrorCode, StartedAt: tr.Start.UTC().Format(time.RFC3339Nano),
		DurationMS: float64(tr.Duration.Microseconds()) / 1000, Upstream: make([]upstreamJSON, len(tr.Upstream)),
	}
	t.Cache.Hits, t.Cache.Misses = tr.CacheHits, tr.CacheMisses
	t.Store = make([]storeOpJSON, len(tr.Store))
	for i, op := range tr.Store {
		t.Store[i] = storeOpJSON{Op: op.Op, Collection: op.Collection, Outcome: op.Outcome, DurationMS: float64(op.Duration.Microseconds()) / 1000}
	}
	for i, ex := range tr.Upstream {
		t.Upstream[i] = upstreamJSON{Service: ex.Service, Method: ex.Method, Path: ex.Path, Status: ex.Status}
	}
	return t
}
