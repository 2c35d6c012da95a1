package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/eleanor-lab/eleanor"
)

// Route classes for rate limiting.
const (
	ClassRead   = "read"   // GET of a product or a task
	ClassWrite  = "write"  // creations and task submissions
	ClassHealth = "health" // the deep health check
)

// RouteClass tells the rate limiter which class a request belongs to. The
// shallow /api/echo has none: it must answer whatever happens, so that
// load balancers can always tell the process is alive; nor have the
// metrics and the dashboard, which must not go blind under load.
func RouteClass(r *http.Request) string {
	switch {
	case r.URL.Path == "/api/echo" || r.URL.Path == "/metrics" ||
		r.URL.Path == "/dashboard":
		return ""
	case r.URL.Path == "/api/health":
		return ClassHealth
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return ClassRead
	case strings.HasPrefix(r.URL.Path, "/api/"):
		return ClassWrite
	}
	return ClassRead
}

// WriteRateLimited answers a request that the rate limiter refused, in
// the JSON error shape.
func WriteRateLimited(w http.ResponseWriter, r *http.Request,
	retry time.Duration) {
	err := &eleanor.Error{
		Code:       eleanor.ERATELIMIT,
		Message:    "too many requests, slow down",
		RetryAfter: retry,
	}
	writeError(w, r, nil, err)
}
