package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/eleanor-lab/eleanor"
)

// echo is the shallow health check: it touches no dependency, ever, so it
// answers even when everything behind the service is down.
func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"Status": "Up and running!"})
}

type checkJSON struct {
	Checker   string  `json:"checker"`
	Output    string  `json:"output"`
	Passed    bool    `json:"passed"`
	Timestamp float64 `json:"timestamp"`
	Expires   float64 `json:"expires"`
}

type healthJSON struct {
	Hostname string      `json:"hostname"`
	Status   string      `json:"status"`
	Results  []checkJSON `json:"results"`
}

// health is the deep health check, served from its cache while fresh.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	results, ok := s.deps.Health.Check(r.Context())
	body := healthJSON{Hostname: s.hostname(), Status: "success",
		Results: []checkJSON{}}
	var retry time.Duration
	for _, res := range results {
		body.Results = append(body.Results, checkJSON{
			Checker:   res.Checker,
			Output:    res.Output,
			Passed:    res.Passed,
			Timestamp: unixSeconds(res.Timestamp),
			Expires:   unixSeconds(res.Expires),
		})
		if !res.Passed {
			retry = max(retry, time.Until(res.Expires))
		}
	}
	status := http.StatusOK
	if !ok {
		body.Status = "failure"
		status = http.StatusServiceUnavailable
		setRetryAfter(w, retry)
	}
	writeJSON(w, status, body)
}

func (s *Server) hostname() string {
	if s.cfg.Hostname != "" {
		return s.cfg.Hostname
	}
	h, _ := os.Hostname()
	return h
}

// unixSeconds is a time as the seed showed it: seconds since the epoch,
// with a fraction.
func unixSeconds(t time.Time) float64 {
	return math.Round(float64(t.UnixMicro())) / 1e6
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) {
	var in eleanor.ProductInput
	if err := s.decode(w, r, &in); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	id, err := s.deps.Products.CreateProduct(r.Context(), in)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"product_id": id,
		"status":     "success",
	})
}

type productJSON struct {
	ID        string `json:"id"`
	Price     string `json:"price"`
	Name      string `json:"product_name"`
	Type      string `json:"product_type"`
	Timestamp string `json:"timestamp"`
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	p, err := s.deps.Products.FindProduct(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, productJSON{
		ID:        p.ID,
		Price:     p.Price.String(),
		Name:      p.Name,
		Type:      p.Type,
		Timestamp: p.CreatedAt.UTC().Format("2006-01-02 15:04:05.000"),
	})
}

func (s *Server) enqueue(kind eleanor.TaskKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.deps.Tasks.Enqueue(r.Context(), kind)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"Task ID": id})
	}
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := s.deps.Tasks.TaskStatus(r.Context(), id)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	// The seed's shape: {"<id>": [state, result]}, the result null while
	// there is none.
	var result any
	if st.Result != "" {
		result = st.Result
	}
	writeJSON(w, http.StatusOK, map[string][]any{
		st.ID: {string(st.State), result},
	})
}

// decode reads a JSON body into v, enforcing the content type and the size
// limit, and refusing trailing data.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil ||
		mt != "application/json" {
		return eleanor.Errorf(eleanor.EMEDIATYPE,
			"Content-Type must be application/json")
	}

	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return decodeError(err, s.cfg.MaxBodyBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err, s.cfg.MaxBodyBytes)
		}
		return eleanor.Errorf(eleanor.EINVALID,
			"invalid JSON: unexpected data after the object")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return eleanor.Errorf(eleanor.ETOOLARGE,
			"request body larger than %d bytes", limit)
	}
	if errors.Is(err, io.EOF) {
		return eleanor.Errorf(eleanor.EINVALID, "invalid JSON: empty body")
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		return eleanor.Errorf(eleanor.EINVALID,
			"invalid JSON: the body must be an object")
	}
	if errors.As(err, &typeErr) {
		return eleanor.Errorf(eleanor.EINVALID,
			"invalid JSON: %s must not be a %s", typeErr.Field, typeErr.Value)
	}
	return &eleanor.Error{Code: eleanor.EINVALID,
		Message: "invalid JSON: " + err.Error()}
}
