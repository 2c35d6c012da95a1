// Package eleanor holds the domain of the eleanor service: products, tasks,
// health results and the error type every layer speaks. The packages below
// it adapt one dependency each (MySQL routing and storage, the Redis cache,
// the asynq queue, HTTP), and cmd/eleanor wires them together.
package eleanor

import (
	"context"
	"time"
)

// Product is one item of the catalogue.
type Product struct {
	ID        string    // 32 lower-case hex digits
	Name      string    // unique, at most MaxNameLen characters
	Type      string    // free text, at most MaxTypeLen characters
	Price     Price     // exact amount in cents
	CreatedAt time.Time // creation time, millisecond precision
}

// ProductService creates and reads products.
type ProductService interface {
	// CreateProduct stores a product and returns its id. Creating a
	// product whose name exists returns the existing id and no error.
	CreateProduct(ctx context.Context, in ProductInput) (string, error)

	// FindProduct returns the product with the given id, or an error
	// with code ENOTFOUND.
	FindProduct(ctx context.Context, id string) (*Product, error)
}

// TaskKind names one of the demo tasks.
type TaskKind string

// The demo tasks of the walkthrough.
const (
	// TaskAdd adds 10 and 30 and succeeds.
	TaskAdd TaskKind = "add"
	// TaskRetry always fails and is retried every second: the dangerous
	// pattern, where every client retries in lockstep.
	TaskRetry TaskKind = "add_retry"
	// TaskExpo always fails and is retried with capped exponential
	// backoff and full jitter: the good pattern.
	TaskExpo TaskKind = "add_expo"
)

// TaskState is the state of a task, named as in the seed walkthrough.
type TaskState string

// Task states, as the seed's Celery reported them.
const (
	TaskPending TaskState = "PENDING"
	TaskStarted TaskState = "STARTED"
	TaskRetried TaskState = "RETRY"
	TaskSuccess TaskState = "SUCCESS"
	TaskFailure TaskState = "FAILURE"
)

// TaskStatus is what is known of one task.
type TaskStatus struct {
	ID     string
	State  TaskState
	Result string // the task's result once it succeeded, else the last error
}

// TaskService submits tasks and reports on them.
type TaskService interface {
	// Enqueue submits a task of the given kind and returns its id.
	Enqueue(ctx context.Context, kind TaskKind) (string, error)

	// TaskStatus reports on a task, or returns an error with code
	// ENOTFOUND when the queue does not know the id.
	TaskStatus(ctx context.Context, id string) (*TaskStatus, error)
}

// CheckResult is the outcome of one deep health check.
type CheckResult struct {
	Checker   string    // e.g. "db_master_check"
	Output    string    // a short human-readable message
	Passed    bool      // whether the dependency answered correctly
	Timestamp time.Time // when the check ran
	Expires   time.Time // until when the result is served from cache
}
