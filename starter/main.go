// Command starter is the operator CLI: it prepares the control schema, validates
// plans offline, starts workflows (printing their id and Web UI link) and reads their
// status. Exit codes: 0 success, 1 error, 2 usage, 3 a run finished with
// reconciliation breaches.
package main

import (
	"errors"
	"fmt"
	"os"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	cmd := newRootCommand()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		var ue *usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
