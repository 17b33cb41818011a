package check

import (
	"fmt"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// History judges a simulated cluster's history. Always: the Raft model's
// invariants (fake.CheckHistory: terms never go back, one leader per term)
// and no committed entry lost. When quiet (no fault that can take a voter
// down happened), also at every tick: at most one voter down (S2 as
// observed), quorum held when the cluster has three or more voters (S1),
// and the service switched only to the workload holding the leader (S4).
func History(h []fake.Record, quiet bool) error {
	if err := fake.CheckHistory(h); err != nil {
		return &Violation{Rule: "Raft", Step: -1, Message: err.Error()}
	}
	prevSvc := ""
	for _, r := range h {
		if r.LostCommitted > 0 {
			return &Violation{Rule: "S4", Step: r.Tick, Message: fmt.Sprintf("%d committed entries lost", r.LostCommitted)}
		}
		if quiet {
			if r.VotersUp < r.Voters-1 {
				return &Violation{Rule: "S2", Step: r.Tick, Message: fmt.Sprintf("%d of %d voters down without faults", r.Voters-r.VotersUp, r.Voters)}
			}
			if r.Voters >= 3 && r.VotersUp < upgrade.Quorum(r.Voters) {
				return &Violation{Rule: "S1", Step: r.Tick, Message: fmt.Sprintf("quorum lost without faults: %d/%d voters up", r.VotersUp, r.Voters)}
			}
			if prevSvc != "" && r.ServiceWorkload != prevSvc && r.Leader != "" && !r.ServiceHasLeader {
				return &Violation{Rule: "S4", Step: r.Tick, Message: fmt.Sprintf("service switched to %s while %s leads", r.ServiceWorkload, r.Leader)}
			}
		}
		prevSvc = r.ServiceWorkload
	}
	return nil
}
