package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/eleanor-lab/eleanor"
)

// recoverer turns a panic into a logged internal error: no request can
// make the server print a stack trace to a client.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the server's own way to abort a response
			}
			s.log.Error("panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeError(w, r, s.log, &eleanor.Error{
				Code:    eleanor.EINTERNAL,
				Message: "internal error",
			})
		}()
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds the whole handling of a request.
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (rec *statusRecorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *statusRecorder) Unwrap() http.ResponseWriter {
	return rec.ResponseWriter
}

// observe logs each request at Debug, and tells Deps.Observe of it. The
// routing decisions logged at Info tell a demo audience more than one line
// per request would.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		if rec.status == 0 {
			rec.status = http.StatusOK // the handler wrote nothing
		}
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", took, "remote", r.RemoteAddr)
		if s.deps.Observe != nil {
			_, route := s.mux.Handler(r)
			s.deps.Observe(route, r.Method, rec.status, took)
		}
	})
}
