// Package logging builds the zap logger the processes use and adapts it to the
// Temporal SDK's log.Logger, so that SDK, workflow and activity logs share one format
// (JSON by default, console for people at a terminal).
package logging

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a zap logger writing JSON (format "json") or human-readable lines
// ("console") to stderr at level.
func New(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.TimeKey = "ts"
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.DisableStacktrace = lvl > zapcore.DebugLevel
	return cfg.Build()
}

// Temporal adapts a zap logger to the SDK's log.Logger and log.WithLogger.
type Temporal struct {
	z *zap.Logger
}

var (
	_ log.Logger     = Temporal{}
	_ log.WithLogger = Temporal{}
)

// NewTemporal wraps z; the SDK's own caller frames are skipped.
func NewTemporal(z *zap.Logger) Temporal {
	return Temporal{z: z.WithOptions(zap.AddCallerSkip(1))}
}

func (t Temporal) Debug(msg string, keyvals ...any) { t.z.Debug(msg, fields(keyvals)...) }
func (t Temporal) Info(msg string, keyvals ...any)  { t.z.Info(msg, fields(keyvals)...) }
func (t Temporal) Warn(msg string, keyvals ...any)  { t.z.Warn(msg, fields(keyvals)...) }
func (t Temporal) Error(msg string, keyvals ...any) { t.z.Error(msg, fields(keyvals)...) }

// With returns a logger that adds keyvals to every entry.
func (t Temporal) With(keyvals ...any) log.Logger { return Temporal{z: t.z.With(fields(keyvals)...)} }

func fields(keyvals []any) []zap.Field {
	fs := make([]zap.Field, 0, (len(keyvals)+1)/2)
	for i := 0; i < len(keyvals); i += 2 {
		key, ok := keyvals[i].(string)
		if !ok {
			key = fmt.Sprint(keyvals[i])
		}
		if i+1 == len(keyvals) {
			fs = append(fs, zap.Any(key, "(missing value)"))
			break
		}
		if err, ok := keyvals[i+1].(error); ok {
			fs = append(fs, zap.NamedError(key, err))
			continue
		}
		fs = append(fs, zap.Any(key, keyvals[i+1]))
	}
	return fs
}
