// Command starter is the operator CLI: it prepares the control schema, validates
// plans offline, starts workflows (printing their id and Web UI link) and reads their
// status. Exit codes: 0 success, 1 error, 2 usage, 3 a run finished with
// reconciliation breaches (or a check failed), 130 interrupted (Ctrl-C during
// `starter land`).
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// isUsage tells usage errors: ours, and cobra's argument and required-flag checks.
func isUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"required flag", "accepts ", "requires at least", "requires at most", "unknown command", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func main() {
	cmd := newRootCommand()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		if isUsage(err) {
			fmt.Fprintln(os.Stderr, "run 'starter --help' for usage")
			os.Exit(2)
		}
		os.Exit(1)
	}
}
