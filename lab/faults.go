package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fault injection across the lab. Each API instance has a fault injector
// of its own, behind its admin endpoints; the lab knows every instance and
// the admin token, so it sends each fault to all of them, and the service
// behaves alike whichever instance nginx picks.

// ErrNoAdminToken is returned by the fault methods of a stack started
// without an admin token: its API instances have no admin endpoints.
var ErrNoAdminToken = errors.New("fault injection needs an admin token, " +
	"and this lab has none")

// InjectFault puts a fault in force for target ("primary", "replica",
// "replica-1", "cache" or "queue") on every API instance. fault is the
// JSON of a faults.Fault, such as {"rate": 1, "latency": "3s"}; an
// instance that refuses it answers why, and the error says so.
func (s *Stack) InjectFault(ctx context.Context, target string,
	fault []byte) error {
	return s.admin(ctx, http.MethodPut,
		"/admin/faults/"+url.PathEscape(target), fault)
}

// ClearFaults clears every fault on every API instance.
func (s *Stack) ClearFaults(ctx context.Context) error {
	return s.admin(ctx, http.MethodDelete, "/admin/faults", nil)
}

// adminTimeout bounds the admin request to one API instance: a frozen
// instance must not hold up the others, nor the terminal that asked.
const adminTimeout = 5 * time.Second

// admin sends one request to the admin endpoints of every API instance,
// each on its own, so that a stopped or frozen instance does not keep the
// others from the change; the error names every instance that failed.
func (s *Stack) admin(ctx context.Context, method, path string,
	body []byte) error {
	if s.adminToken == "" {
		return ErrNoAdminToken
	}
	var errs []error
	for _, api := range s.APIs {
		u := "http://" + s.Addr(api.Name()) + path
		if err := s.adminCall(ctx, method, u, body); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", api.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// adminCall sends one admin request and turns an answer other than 200
// into an error that carries the API's own message and details.
func (s *Stack) adminCall(ctx context.Context, method, u string,
	body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u,
		bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	req.Header.Set("Content-Type", "application/json")

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}

	var answer struct {
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(raw, &answer) != nil || answer.Message == "" {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(answer.Errors) > 0 {
		return fmt.Errorf("%s: %s", answer.Message,
			strings.Join(answer.Errors, "; "))
	}
	return errors.New(answer.Message)
}
