package sim

import "errors"

// Errors of package sim, checked with errors.Is.
var (
	// ErrBadScenario is a scenario that cannot run (a bad field or flag).
	ErrBadScenario = errors.New("sim: bad scenario")
	// ErrNotConverged is a run whose replicas did not end identical.
	ErrNotConverged = errors.New("sim: replicas did not converge")
)
