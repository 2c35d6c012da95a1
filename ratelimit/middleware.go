package ratelimit

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Middleware returns HTTP middleware that limits each client on each class
// of route.
//
// classify names the class of a request and its limit; ok false means the
// route is not limited (such as /api/echo, which must touch no dependency).
// On a limited route the response carries X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (in seconds). A refused
// request also gets Retry-After, in whole seconds and at least 1, and is
// handed to deny, which writes the body so that the HTTP layer keeps its
// one JSON error shape. The client is identified as ClientIP describes.
func (l *Limiter) Middleware(
	classify func(*http.Request) (class string, lim Limit, ok bool),
	deny func(w http.ResponseWriter, r *http.Request, retry time.Duration),
	trustProxy bool,
) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			class, lim, ok := classify(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}

			key := class + ":" + ClientIP(r, trustProxy)
			d := l.Allow(r.Context(), key, lim)
			setHeaders(w.Header(), d)

			if !d.Allowed {
				deny(w, r, d.RetryAfter)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// setHeaders describes the decision to the client. A degraded decision
// knows nothing of the client's budget, so it says nothing rather than
// invent numbers.
func setHeaders(h http.Header, d Decision) {
	if d.Degraded {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(seconds(d.ResetAfter)))

	// Rounding up, and never below one: "retry after 0 seconds" invites
	// a client to hammer the server in a tight loop.
	if !d.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(seconds(d.RetryAfter), 1)))
	}
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

// ClientIP returns the address of the client that sent r: the host of
// r.RemoteAddr, or, when trustProxy is set, the first address of the
// X-Forwarded-For header if it holds a valid one.
//
// Only set trustProxy when a proxy that you run, such as the lab's nginx,
// is the sole way in: otherwise any client can name itself in the header
// and escape its limit.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
		if ip, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return ip.Unmap().String()
		}
	}

	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		// Not host:port; a test or an odd listener. Use it whole.
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String()
	}
	return host
}
