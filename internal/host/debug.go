package host

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
)

// serveDebug serves Go's profiler on debug.listen, on a mux of its own so
// that nothing else is exposed there. It returns the address it listens on
// and a function that stops it; with no debug.listen it serves nothing.
func (h *Host) serveDebug() (addr string, stop func(), _ error) {
	if h.cfg.Debug.Listen == "" {
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", h.cfg.Debug.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("host: debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(h.log.Named("debug"))}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), func() { _ = srv.Close() }, nil
}
