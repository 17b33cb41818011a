package check

import "fmt"

// Violation is a broken invariant.
type Violation struct {
	// Rule is the invariant: "S1".."S8" for the safety rules, "L1" for
	// liveness, "Raft" for the Raft model's own invariants, "Step" for a
	// Step that failed on its own persisted output.
	Rule string
	// Step locates the violation: the index of the offending action for
	// Decision (-1 for the list as a whole), the reconcile or tick number
	// for the checks of a run.
	Step int
	// Member is the member concerned, if any.
	Member string
	// Message explains the violation.
	Message string
}

// Error implements error: one line, the rule first.
func (v *Violation) Error() string {
	s := v.Rule + ": "
	if v.Step >= 0 {
		s += fmt.Sprintf("step %d: ", v.Step)
	}
	if v.Member != "" {
		s += v.Member + ": "
	}
	return s + v.Message
}
