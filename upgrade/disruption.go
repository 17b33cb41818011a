package upgrade

import "fmt"

// ReasonBudgetElsewhere: the one voter disruption the Raft configuration
// can afford is allotted to another workload (blue-green: two workloads
// share one configuration, and their budgets together never let two voters
// out).
const ReasonBudgetElsewhere Reason = "DisruptionBudgetElsewhere"

// WorkloadBudget is the voluntary-disruption budget of one workload: what a
// host writes into the workload's PodDisruptionBudget (policy/v1
// minAvailable, selecting the workload's pods).
//
// +kubebuilder:object:generate=false
type WorkloadBudget struct {
	// Workload names the workload (the StatefulSet).
	Workload string `json:"workload"`
	// Pods is how many pods the workload should have: the larger of its
	// desired replicas and the members observed in it.
	Pods int32 `json:"pods"`
	// Voters counts the workload's members that vote in the Raft
	// configuration.
	Voters int32 `json:"voters"`
	// MinAvailable is how many of the workload's pods must stay ready: Pods
	// when none may go, Pods-1 when one may, 0 for a workload without
	// voters.
	MinAvailable int32 `json:"minAvailable"`
	// Gate says why none of the workload's pods may go (nil when one may,
	// or when the workload holds no voter).
	Gate *Gate `json:"gate,omitempty"`
}

// Disruptions is how many ready pods the budget lets go right now, given
// how many of the workload's pods are ready: what the Kubernetes disruption
// controller computes as disruptionsAllowed.
func (b WorkloadBudget) Disruptions(ready int32) int32 { return max(0, ready-b.MinAvailable) }

// DisruptionBudget is Safety{}.DisruptionBudget: the quorum-pinned budgets
// with the default catch-up definition.
func DisruptionBudget(obs *Observation) []WorkloadBudget { return Safety{}.DisruptionBudget(obs) }

// DisruptionBudget returns the quorum-pinned disruption budget of each
// workload of obs, in obs.Workloads order (by name). Voluntary disruptions
// (a node drain's evictions) may then take out at most one voter of the
// whole Raft configuration, and only while it can afford it.
//
// The formula, with V the voters of the configuration (every workload:
// blue and green share one during blue-green), Q = Quorum(V) and H the
// voters up and caught up (CaughtUp, with s.CatchUp):
//
//   - the configuration affords one voter out (B = 1) only when the Raft
//     view is complete (CheckView), every voter is up and caught up (H = V:
//     no voter is already out, S2) and one more failure keeps quorum
//     (H-1 >= Q, failure tolerance at least 1, S1); otherwise B = 0. A
//     cluster of one or two voters never affords one (AllowDowntime does
//     not apply to drains);
//   - B goes to one workload only: the one holding the most voters (the
//     first by name on a tie), so two workloads sharing the configuration
//     never each let a voter go;
//   - a workload holding voters gets MinAvailable = Pods - B when it holds
//     the allotment, Pods otherwise. Its pods are all counted, non-voters
//     included: a budget selects pods, not voters, so a non-voter's
//     eviction spends the allotment too;
//   - a workload without voters gets MinAvailable = 0: learners and
//     non-voters do not protect quorum;
//   - on an unknown or partial view (CheckView) every workload gets
//     MinAvailable = Pods with the RaftViewUnknown gate, whatever it seems
//     to hold: unknown is never absent, and a member that looks like a
//     non-voter may be a voter.
//
// Since the disruption controller counts ready pods, MinAvailable = Pods-1
// lets one pod go only while all of them are ready, and none once one is
// out (evicted, or restarted by an upgrade). The budget is a snapshot: a
// host recomputes it at each observation, and a second voter going down
// between two observations (in another workload) is only caught by an
// eviction check on a fresh observation (Safety.CanDisrupt). It does not
// single out the leader either: that, too, is the eviction check's job.
func (s Safety) DisruptionBudget(obs *Observation) []WorkloadBudget {
	out := make([]WorkloadBudget, 0, len(obs.Workloads))
	for _, w := range obs.Workloads {
		b := WorkloadBudget{Workload: w.Name, Pods: max(w.Replicas, 0)}
		var n int32
		for i := range obs.Members {
			if m := &obs.Members[i]; m.Workload == w.Name {
				n++
				if m.IsVoter() {
					b.Voters++
				}
			}
		}
		b.Pods = max(b.Pods, n)
		out = append(out, b)
	}
	if blind := CheckView(obs); blind != nil {
		for i := range out {
			g := *blind
			out[i].MinAvailable, out[i].Gate = out[i].Pods, &g
		}
		return out
	}
	gate := s.configurationBudget(obs)
	holder := -1
	for i, b := range out {
		if b.Voters > 0 && (holder < 0 || b.Voters > out[holder].Voters) {
			holder = i
		}
	}
	for i := range out {
		b := &out[i]
		switch {
		case b.Voters == 0:
			b.MinAvailable = 0
		case gate != nil:
			g := *gate
			b.MinAvailable, b.Gate = b.Pods, &g
		case i != holder:
			b.MinAvailable = b.Pods
			b.Gate = &Gate{Name: GateQuorum, Reason: ReasonBudgetElsewhere, Message: fmt.Sprintf(
				"the raft configuration affords one voter out, allotted to workload %s", out[holder].Workload)}
		default:
			b.MinAvailable = b.Pods - 1
		}
	}
	return out
}

// configurationBudget returns nil when the Raft configuration of obs (a
// complete view) affords one voter out, or the gate that holds.
func (s Safety) configurationBudget(obs *Observation) *Gate {
	c := s.CatchUp.WithDefaults()
	leader := leaderOf(obs)
	voters, healthy := 0, 0
	for i := range obs.Members {
		m := &obs.Members[i]
		if !m.IsVoter() {
			continue
		}
		voters++
		if lag := catchUpLag(obs, m, leader, leader != nil, c); lag != lagNone {
			g := lagGate(obs, m, leader, c, lag)
			g.Message = "no voluntary disruption while a voter is out: " + g.Message
			return g
		}
		healthy++
	}
	if voters == 0 {
		return &Gate{Name: GateQuorum, Reason: ReasonQuorumLost, Message: "the raft configuration has no voter"}
	}
	if ft := FailureTolerance(voters, healthy); ft < 1 {
		return &Gate{Name: GateQuorum, Reason: ReasonNoFailureTolerance, Message: fmt.Sprintf(
			"failure tolerance is %d with %d/%d healthy voters; no voluntary disruption", ft, healthy, voters)}
	}
	return nil
}
