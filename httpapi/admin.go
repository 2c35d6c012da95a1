package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/faults"
)

// The admin endpoints drive the fault injector. They exist only when an
// admin token is configured, and answer 401 to any request without it.
//
//	GET    /admin/faults           the faults in force
//	PUT    /admin/faults/{target}  put a fault in force
//	DELETE /admin/faults/{target}  clear one fault
//	DELETE /admin/faults           clear them all
func (s *Server) adminRoutes() []route {
	if s.cfg.AdminToken == "" || s.deps.Faults == nil {
		return nil
	}
	return []route{
		{"GET", "/admin/faults", s.admin(s.listFaults)},
		{"PUT", "/admin/faults/{target}", s.admin(s.setFault)},
		{"DELETE", "/admin/faults/{target}", s.admin(s.clearFault)},
		{"DELETE", "/admin/faults", s.admin(s.clearFault)},
	}
}

// admin lets through only requests that carry the admin token as a
// bearer token. The comparison takes the same time whatever the guess.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + s.cfg.AdminToken)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eleanor admin"`)
			writeError(w, r, s.log, eleanor.Errorf(eleanor.EUNAUTHORIZED,
				"admin endpoints need the admin token as a bearer token"))
			return
		}
		next(w, r)
	}
}

type faultsJSON struct {
	Targets []string       `json:"targets"`
	Faults  []faults.Fault `json:"faults"`
}

func (s *Server) listFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, faultsJSON{
		Targets: s.deps.Faults.Targets(),
		Faults:  s.deps.Faults.List(),
	})
}

func (s *Server) setFault(w http.ResponseWriter, r *http.Request) {
	var f faults.Fault
	if err := s.decode(w, r, &f); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	f.Target = r.PathValue("target")
	if err := s.deps.Faults.Set(f); err != nil {
		writeError(w, r, s.log, &eleanor.Error{Code: eleanor.EINVALID,
			Message: "invalid fault",
			Details: strings.Split(err.Error(), "; ")})
		return
	}
	s.log.Warn("fault injected", "target", f.Target, "rate", f.Rate,
		"latency", time.Duration(f.Latency), "error", f.Error)
	s.listFaults(w, r)
}

func (s *Server) clearFault(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("target")
	s.deps.Faults.Clear(target)
	if target == "" {
		target = "all"
	}
	s.log.Info("fault cleared", "target", target)
	s.listFaults(w, r)
}
