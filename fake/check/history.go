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

// HistoryOptions are the stricter rules HistoryWith applies to a quiet
// history (no fault that can take a voter down happened).
type HistoryOptions struct {
	// Quiet is whether no fault that can take a voter down happened; the
	// rules below apply only then.
	Quiet bool
	// Targeted is whether the cluster supports targeted leadership
	// transfer: then no election outage is ever needed, so the cluster is
	// writable at every tick while it has three or more voters (or at
	// every tick, with KeepsVotersUp).
	Targeted bool
	// MaxLeaderless, when positive, bounds the longest run of ticks
	// without a leader while the cluster has three or more voters (one
	// election: the simulator's longest election timeout plus one).
	MaxLeaderless int
	// KeepsVotersUp is for strategies that never restart a voter's pod
	// (blue-green): every voter is up at every tick, and a leader can
	// always write.
	KeepsVotersUp bool
}

// HistoryWith judges a history as History does, and with opts.Quiet also
// by the stricter rules of opts.
func HistoryWith(h []fake.Record, opts HistoryOptions) error {
	if err := History(h, opts.Quiet); err != nil || !opts.Quiet {
		return err
	}
	leaderless := 0
	for _, r := range h {
		big := r.Voters >= 3
		if opts.KeepsVotersUp && r.VotersUp != r.Voters {
			return &Violation{Rule: "S2", Step: r.Tick, Message: fmt.Sprintf("%d of %d voters down, though the strategy never restarts a voter", r.Voters-r.VotersUp, r.Voters)}
		}
		if opts.KeepsVotersUp && !r.Writable && r.Leader != "" {
			return &Violation{Rule: "S1", Step: r.Tick, Message: "leader " + r.Leader + " cannot write without faults"}
		}
		if opts.Targeted && (big || opts.KeepsVotersUp) && !r.Writable {
			return &Violation{Rule: "S3", Step: r.Tick, Message: "not writable without faults, though leadership transfers are targeted"}
		}
		if r.Leader == "" {
			leaderless++
		} else {
			leaderless = 0
		}
		if opts.MaxLeaderless > 0 && big && leaderless > opts.MaxLeaderless {
			return &Violation{Rule: "S3", Step: r.Tick, Message: fmt.Sprintf("leaderless for %d ticks without faults (more than one election)", leaderless)}
		}
	}
	return nil
}

// Idle judges the end state of an upgrade that reached Idle, on the true
// cluster: every member in the Raft configuration runs the status's current
// version, the operation lock is free, every workload's partition is 0 and
// the serving workload is the only one left (no green workload or old blue
// outlives the upgrade that created or replaced it).
func Idle(truth upgrade.Observation, st upgrade.Status) error {
	if st.Upgrade != nil {
		return &Violation{Rule: "L1", Step: -1, Message: "not idle: phase " + st.Upgrade.Phase}
	}
	for _, m := range truth.Members {
		if m.Raft.Present && st.CurrentVersion != "" && m.Version != st.CurrentVersion {
			return &Violation{Rule: "L1", Step: -1, Member: m.Name, Message: fmt.Sprintf("idle at %s but %s runs %s", st.CurrentVersion, m.Name, m.Version)}
		}
	}
	if truth.Lock.Holder != "" {
		return &Violation{Rule: "L1", Step: -1, Message: "idle with the lock held by " + truth.Lock.Holder}
	}
	for _, w := range truth.Workloads {
		if w.Partition != 0 {
			return &Violation{Rule: "L1", Step: -1, Message: fmt.Sprintf("idle with workload %s at partition %d", w.Name, w.Partition)}
		}
		if s := truth.Service.Workload; s != "" && w.Name != s {
			return &Violation{Rule: "L1", Step: -1, Message: fmt.Sprintf("idle with workload %s beside the serving %s", w.Name, s)}
		}
	}
	return nil
}
