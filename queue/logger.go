package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/eleanor-lab/eleanor/internal/throttle"
)

// asynqLogEvery is how often asynq's warnings and errors may reach the
// logs. While the queue Redis is down, asynq's loops fail every poll
// interval (100ms) and would report each failure.
const asynqLogEvery = 10 * time.Second

// asynqLogger adapts slog to asynq's Logger. asynq reports at Info its
// routine lifecycle ("Starting processing", "Pushed task back to queue"),
// which the worker logs itself in its own words, so asynq's Info becomes
// slog's Debug; its warnings and errors keep their level but are
// throttled.
type asynqLogger struct {
	log      *slog.Logger
	throttle *throttle.Throttle
}

func newAsynqLogger(log *slog.Logger) asynqLogger {
	return asynqLogger{log: log, throttle: throttle.New(nil, asynqLogEvery)}
}

// Debug logs at slog's Debug level.
func (l asynqLogger) Debug(args ...any) { l.emit(slog.LevelDebug, args) }

// Info logs at slog's Debug level, to keep asynq quiet by default.
func (l asynqLogger) Info(args ...any) { l.emit(slog.LevelDebug, args) }

// Warn logs at slog's Warn level.
func (l asynqLogger) Warn(args ...any) { l.emitThrottled(slog.LevelWarn, args) }

// Error logs at slog's Error level.
func (l asynqLogger) Error(args ...any) { l.emitThrottled(slog.LevelError, args) }

// Fatal logs at slog's Error level. asynq never calls it; were it to, a
// library would still have no business ending the process.
func (l asynqLogger) Fatal(args ...any) { l.emit(slog.LevelError, args) }

// emit writes args, formatted as fmt.Sprint does, at the given level.
func (l asynqLogger) emit(level slog.Level, args []any) {
	l.log.Log(context.Background(), level, fmt.Sprint(args...))
}

// emitThrottled is emit, at most once per asynqLogEvery.
func (l asynqLogger) emitThrottled(level slog.Level, args []any) {
	ok, skipped := l.throttle.Allow()
	if !ok {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprint(args...),
		"suppressed", skipped)
}
