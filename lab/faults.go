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

// admin sends one request to the admin endpoints of every API instance,
// stopping at the first that fails.
func (s *Stack) admin(ctx context.Context, method, path string,
	body []byte) error {
	if s.adminToken == "" {
		return ErrNoAdminToken
	}
	for _, api := range s.APIs {
		u := "http://" + s.Addr(api.Name()) + path
		req, err := http.NewRequestWithContext(ctx, method, u,
			bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.adminToken)
		req.Header.Set("Content-Type", "application/json")
		if err := adminCall(req); err != nil {
			return fmt.Errorf("%s: %w", api.Name(), err)
		}
	}
	return nil
}

// adminCall sends req and turns an answer other than 200 into an error
// that carries the API's own message and details.
func adminCall(req *http.Request) error {
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
