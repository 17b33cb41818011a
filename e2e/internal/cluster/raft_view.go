package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func orNone(name string) string {
	if name == "" {
		return "(none)"
	}
	return name
}

// Leader returns the current leader's name ("" when none).
func (r *Raft) Leader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

// Formed reports whether the cluster has formed.
func (r *Raft) Formed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.formed
}

// Voters returns the voters' names, sorted.
func (r *Raft) Voters() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.voterNames()
}

// Healthy reports whether every voter serves and is caught up and the
// cluster has a leader.
func (r *Raft) Healthy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	voters, healthy, _ := r.counts()
	return r.formed && r.leader != "" && voters == healthy
}

// Restarts returns how many times the named server restarted (its pod was
// recreated) since the harness first saw it.
func (r *Raft) Restarts(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.servers[name]; s != nil {
		return s.restarts
	}
	return 0
}

// Seed returns the seed of the simulated Raft's generator.
func (r *Raft) Seed() uint64 { return r.seed }

// CatchUps returns the catch-ups completed so far, in order.
func (r *Raft) CatchUps() []CatchUp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.catchUps)
}

// Elections returns the elections decided so far, in order.
func (r *Raft) Elections() []Election {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.elections)
}

// Violations returns the safety violations seen so far.
func (r *Raft) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.violations)
}

// MaxVotersDown is the largest number of voters seen down (or catching
// up) at once since the cluster formed.
func (r *Raft) MaxVotersDown() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxDown
}

// History returns the simulated Raft's history.
func (r *Raft) History() []RaftEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.history)
}

// FormatHistory renders the history one event per line, times relative to
// the first event.
func (r *Raft) FormatHistory() string {
	h := r.History()
	var b strings.Builder
	for _, e := range h {
		fmt.Fprintf(&b, "%8s %s\n", e.At.Sub(h[0].At).Round(time.Millisecond), e.What)
	}
	return b.String()
}

// Fill adds the simulated Raft view to an observation built by the
// Kubernetes adapter: obs.Raft, each member's Raft state, the
// capabilities, backup readiness and hook reports. Without a leader (during
// an election) the Raft view is unknown.
func (r *Raft) Fill(obs *upgrade.Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index++ // the cluster keeps writing
	r.advance()
	voters, healthy, quorum := r.counts()
	obs.Raft = upgrade.RaftView{}
	if r.formed && r.leader != "" {
		obs.Raft = upgrade.RaftView{
			Known:            true,
			LeaderID:         r.leader,
			Term:             r.term,
			CommitIndex:      r.index,
			FailureTolerance: int32(max(healthy-quorum, 0)),
			AutopilotHealthy: healthy == voters,
		}
	}
	for i := range obs.Members {
		m := &obs.Members[i]
		s := r.servers[m.Name]
		m.Raft = upgrade.MemberRaft{ID: m.Name, Address: m.Name + ":8201"}
		if s == nil || !s.present || !obs.Raft.Known {
			continue
		}
		m.Raft.Present = true
		m.Raft.Suffrage = upgrade.Nonvoter
		if s.voter {
			m.Raft.Suffrage = upgrade.Voter
		}
		m.Raft.Leader = s.name == r.leader
		m.Raft.Healthy = s.healthy()
		m.Raft.LastIndex = s.last
		m.Raft.LastTerm = s.lastTerm
		switch {
		case s.healthy():
			m.Raft.StableSince = s.stable
		case !s.up():
			m.Raft.LastContact = time.Hour
		}
	}
	obs.Capabilities = upgrade.Capabilities{TargetedTransfer: r.targeted, NonVoters: true, Snapshots: true}
	obs.Backup = upgrade.BackupView{Configured: true, LastSuccess: r.backup}
	obs.Hooks = slices.Clone(r.hooks)
}

// Execute carries out a Raft action on the simulated cluster (it
// implements the Kubernetes adapter's ActionExecutor). Actions already done
// succeed; impossible ones (moving leadership to a server that is down or
// not caught up, demoting or removing the leader) fail.
func (r *Raft) Execute(_ context.Context, _ *upgrade.Observation, a upgrade.Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	get := func(name string) (*server, error) {
		s := r.servers[name]
		if s == nil {
			return nil, fmt.Errorf("%w: %s: no server %q", ErrRaft, a, name)
		}
		return s, nil
	}
	switch a := a.(type) {
	case upgrade.StepDown:
		if r.leader != a.ID {
			r.logf("step down %s: not leader (%s leads), nothing to do", a.ID, orNone(r.leader))
			return nil
		}
		other := false
		for _, n := range r.names() {
			if s := r.servers[n]; n != r.leader && s.present && s.voter && s.healthy() {
				other = true
			}
		}
		if !other {
			return fmt.Errorf("%w: %s: no other healthy voter", ErrRaft, a)
		}
		// The leader steps down; an election follows after a delay, which
		// it does not stand in.
		r.loseLeader("StepDown by "+a.ID, a.ID)
	case upgrade.TransferLeadership:
		if !r.targeted {
			return fmt.Errorf("%w: %s: targeted transfer unsupported", ErrRaft, a)
		}
		if r.leader == a.ToID {
			return nil
		}
		if r.leader != a.FromID {
			return fmt.Errorf("%w: %s: %s is not the leader (%s is)", ErrRaft, a, a.FromID, orNone(r.leader))
		}
		to, err := get(a.ToID)
		if err != nil {
			return err
		}
		if !to.present || !to.voter || !to.healthy() {
			return fmt.Errorf("%w: %s: target is not a healthy, caught-up voter", ErrRaft, a)
		}
		old := r.leader
		r.leader = a.ToID
		r.term++
		r.logf("leader %s -> %s (TransferLeadership), term %d", old, r.leader, r.term)
		r.advance()
	case upgrade.JoinNonvoter:
		s, err := get(a.ID)
		if err != nil {
			return err
		}
		if s.present {
			return nil
		}
		if !s.up() {
			return fmt.Errorf("%w: %s: server is down", ErrRaft, a)
		}
		s.present, s.voter, s.last, s.lastTerm = true, false, 0, 0
		r.logf("%s joined as non-voter", s.name)
		r.startCatchUp(s, "joined")
	case upgrade.Promote:
		s, err := get(a.ID)
		if err != nil {
			return err
		}
		if !s.present {
			return fmt.Errorf("%w: %s: not in the configuration", ErrRaft, a)
		}
		if s.voter {
			return nil
		}
		if !s.up() {
			return fmt.Errorf("%w: %s: server is down", ErrRaft, a)
		}
		s.voter = true
		caught := ""
		if !s.caughtUp {
			caught = " (not caught up)"
		}
		r.logf("%s promoted to voter%s", s.name, caught)
	case upgrade.Demote:
		s, err := get(a.ID)
		if err != nil {
			return err
		}
		if !s.present || !s.voter {
			return nil
		}
		if r.leader == s.name {
			return fmt.Errorf("%w: %s: cannot demote the leader", ErrRaft, a)
		}
		s.voter = false
		r.logf("%s demoted to non-voter", s.name)
	case upgrade.RemovePeer:
		s, err := get(a.ID)
		if err != nil {
			return err
		}
		if !s.present {
			return nil
		}
		if r.leader == s.name {
			return fmt.Errorf("%w: %s: cannot remove the leader", ErrRaft, a)
		}
		s.present, s.voter = false, false
		s.catchUp++ // a pending catch-up is void
		r.logf("%s removed from the configuration", s.name)
	case upgrade.TakeSnapshot:
		r.backup = time.Now()
		r.logf("snapshot %s taken", a.Name)
		return nil
	case upgrade.RunHook:
		for _, h := range r.hooks {
			if h.Hook == a.Hook && h.Phase == a.Phase && h.Attempt == a.Attempt {
				return nil
			}
		}
		r.hooks = append(r.hooks, upgrade.HookStatus{Hook: a.Hook, Phase: a.Phase, Attempt: a.Attempt, Done: true, Succeeded: true, Message: "ok"})
		r.logf("hook %s/%s#%d ran", a.Hook, a.Phase, a.Attempt)
		return nil
	default:
		return fmt.Errorf("%w: %s is not a raft action", ErrRaft, a)
	}
	r.check(string(a.Kind()))
	return nil
}
