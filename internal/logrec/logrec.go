// Package logrec records log records for tests that assert what the logs
// show: in eleanor the logs are part of the behaviour, since they are how
// a demo audience watches each decision being made.
package logrec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Record is one log record, its attributes formatted as strings.
type Record struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// Recorder is a slog.Handler that keeps every record and optionally
// copies it, as text, to another writer.
type Recorder struct {
	mu      sync.Mutex
	records []Record
	attrs   []slog.Attr
	parent  *Recorder
	copyTo  slog.Handler
}

// New returns a recorder that also writes each record to w as text, when
// w is not nil.
func New(w io.Writer) *Recorder {
	r := &Recorder{}
	if w != nil {
		r.copyTo = slog.NewTextHandler(w,
			&slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return r
}

// Logger returns a logger that records into r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

func (r *Recorder) root() *Recorder {
	if r.parent != nil {
		return r.parent
	}
	return r
}

// Enabled implements slog.Handler: everything is recorded.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (r *Recorder) Handle(ctx context.Context, rec slog.Record) error {
	attrs := map[string]string{}
	for _, a := range r.attrs {
		attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})

	root := r.root()
	root.mu.Lock()
	root.records = append(root.records,
		Record{Time: rec.Time, Level: rec.Level, Message: rec.Message,
			Attrs: attrs})
	root.mu.Unlock()
	if root.copyTo != nil {
		return root.copyTo.WithAttrs(r.attrs).Handle(ctx, rec)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (r *Recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	all := append(append([]slog.Attr{}, r.attrs...), attrs...)
	return &Recorder{attrs: all, parent: r.root()}
}

// WithGroup implements slog.Handler; groups are flattened.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Find returns the records whose message contains msg and whose
// attributes include every key and value of attrs.
func (r *Recorder) Find(msg string, attrs map[string]string) []Record {
	root := r.root()
	root.mu.Lock()
	defer root.mu.Unlock()
	var out []Record
	for _, rec := range root.records {
		if strings.Contains(rec.Message, msg) && matches(rec, attrs) {
			out = append(out, rec)
		}
	}
	return out
}

// Count is len(Find(msg, attrs)).
func (r *Recorder) Count(msg string, attrs map[string]string) int {
	return len(r.Find(msg, attrs))
}

// Reset forgets every record so far.
func (r *Recorder) Reset() {
	root := r.root()
	root.mu.Lock()
	root.records = nil
	root.mu.Unlock()
}

func matches(rec Record, attrs map[string]string) bool {
	for k, v := range attrs {
		if rec.Attrs[k] != v {
			return false
		}
	}
	return true
}

// String formats a record for test failure messages.
func (rec Record) String() string {
	return fmt.Sprintf("%s %q %v", rec.Level, rec.Message, rec.Attrs)
}
