// Package queue runs eleanor's tasks on hibiken/asynq, with Redis as the
// broker. Client submits tasks and reports on them for the API; Worker
// executes them. The retry delays come from package backoff, and the
// worker logs every retry with its delay so that an audience can watch the
// fixed and the exponential policies side by side.
package queue

import (
	"encoding/json"
	"fmt"

	"github.com/eleanor-lab/eleanor"
)

// Queue names. The probe has a queue of its own so that the worker can
// serve it before the demo tasks (see NewWorker).
const (
	// TaskQueue holds the demo tasks; it bears the product's name.
	TaskQueue = "eleanor"

	// HealthQueue holds the probe tasks of the deep health check.
	HealthQueue = "eleanor-health"
)

// probeType is the asynq type name of the health probe task. The demo
// tasks use their eleanor.TaskKind as type name.
const probeType = "health_probe"

// payload is the JSON body of every task. The id is repeated inside it
// because asynq hands the retry delay function a task rebuilt without its
// id, and the retry log must name the task.
type payload struct {
	TaskID string `json:"task_id"`
	A      int    `json:"a"`
	B      int    `json:"b"`
}

// encodePayload returns the JSON payload of the task with the given id.
// Every demo task adds 10 and 30, as in the seed walkthrough.
func encodePayload(id string) ([]byte, error) {
	b, err := json.Marshal(payload{TaskID: id, A: 10, B: 30})
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// decodePayload parses a task's payload.
func decodePayload(b []byte) (payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return payload{}, fmt.Errorf("decode payload: %w", err)
	}
	return p, nil
}

// knownKind reports whether kind is one of the demo tasks.
func knownKind(kind eleanor.TaskKind) bool {
	switch kind {
	case eleanor.TaskAdd, eleanor.TaskRetry, eleanor.TaskExpo:
		return true
	}
	return false
}
