package httpapi

import (
	_ "embed"
	"net/http"
)

// dashboardPage is the live dashboard for the stage: one page that reads
// /metrics every second and shows what the service believes of each
// dependency and what it decides, as the audience breaks things.
//
//go:embed dashboard.html
var dashboardPage []byte

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(dashboardPage)
}
