package queue

import (
	"context"
	"fmt"
	"log/slog"
)

// asynqLogger adapts slog to asynq's Logger. asynq reports at Info its
// routine lifecycle ("Starting processing", "Pushed task back to queue"),
// which the worker logs itself in its own words, so asynq's Info becomes
// slog's Debug; its warnings and errors keep their level.
type asynqLogger struct {
	log *slog.Logger
}

// Debug logs at slog's Debug level.
func (l asynqLogger) Debug(args ...any) { l.emit(slog.LevelDebug, args) }

// Info logs at slog's Debug level, to keep asynq quiet by default.
func (l asynqLogger) Info(args ...any) { l.emit(slog.LevelDebug, args) }

// Warn logs at slog's Warn level.
func (l asynqLogger) Warn(args ...any) { l.emit(slog.LevelWarn, args) }

// Error logs at slog's Error level.
func (l asynqLogger) Error(args ...any) { l.emit(slog.LevelError, args) }

// Fatal logs at slog's Error level. asynq never calls it; were it to, a
// library would still have no business ending the process.
func (l asynqLogger) Fatal(args ...any) { l.emit(slog.LevelError, args) }

// emit writes args, formatted as fmt.Sprint does, at the given level.
func (l asynqLogger) emit(level slog.Level, args []any) {
	l.log.Log(context.Background(), level, fmt.Sprint(args...))
}
