package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/eleanor-lab/eleanor"
)

// statusOf maps each error code to its HTTP status: the one place where
// domain errors meet HTTP.
var statusOf = map[string]int{
	eleanor.EINVALID:      http.StatusBadRequest,
	eleanor.EUNAUTHORIZED: http.StatusUnauthorized,
	eleanor.ENOTFOUND:     http.StatusNotFound,
	eleanor.EMETHOD:       http.StatusMethodNotAllowed,
	eleanor.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	eleanor.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	eleanor.ERATELIMIT:    http.StatusTooManyRequests,
	eleanor.EINTERNAL:     http.StatusInternalServerError,
	eleanor.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// errorBody is the one shape of every error answer.
type errorBody struct {
	Code    int      `json:"code"`
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

// writeError answers err in the JSON error shape. Internal errors are
// logged here, once, and answered with a generic message; errors that mean
// a dependency is down are logged at Warn, since they are expected while
// the service runs degraded.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger,
	err error) {
	code := eleanor.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}

	switch code {
	case eleanor.EINTERNAL:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path,
			"err", err)
	case eleanor.EUNAVAILABLE:
		log.Warn("dependency unavailable", "method", r.Method,
			"path", r.URL.Path, "err", err)
	}

	body := errorBody{Code: status, Message: eleanor.ErrorMessage(err)}
	var de *eleanor.Error
	if errors.As(err, &de) {
		body.Errors = de.Details
		if de.RetryAfter > 0 {
			setRetryAfter(w, de.RetryAfter)
		}
	}
	if body.Errors == nil {
		body.Errors = []string{}
	}
	writeJSON(w, status, body)
}

// setRetryAfter sets the Retry-After header in whole seconds, rounded up
// and at least one.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := max(1, int(math.Ceil(d.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
