package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raftshift/raftshift/upgrade"
)

// ErrRaft is wrapped by every error of the simulated Raft's Execute.
var ErrRaft = errors.New("simulated raft")

// RaftEvent is one entry of the simulated Raft's history.
type RaftEvent struct {
	// At is the wall-clock time of the event.
	At time.Time
	// What describes it ("leader bao-2 -> bao-0 (StepDown)", "bao-2 down").
	What string
}

// server is the simulated Raft server of one pod name.
type server struct {
	name     string
	workload string
	uid      types.UID
	exists   bool
	ready    bool
	present  bool
	voter    bool
	last     uint64
	stable   time.Time
	restarts int
}

func (s *server) up() bool { return s.exists && s.ready }

// Raft simulates the Raft cluster of a RaftSet's pods: one server per pod
// name, up while its pod exists and is ready. A recreated pod (new UID) is a
// server restart: the member is down until the new incarnation is ready,
// then it is caught up at once. The cluster forms when all the initial
// StatefulSet's replicas are first ready, every one a voter, with
// SetSpec.InitialLeader leading.
//
// Every change is checked against the Raft safety invariants of the design
// (S1 quorum, S2 one voter disrupted at a time, S3 the leader never goes
// down while leading); breaches are kept in Violations. If the leader does
// go down, a new one is elected among the healthy voters, as Raft would.
type Raft struct {
	mu         sync.Mutex
	workload   string
	replicas   int32
	initial    string
	targeted   bool
	servers    map[string]*server
	formed     bool
	leader     string
	term       uint64
	index      uint64
	backup     time.Time
	hooks      []upgrade.HookStatus
	history    []RaftEvent
	violations []string
	maxDown    int
	inS1, inS2 bool
}

func newRaft(spec SetSpec) *Raft {
	return &Raft{
		workload: spec.Name,
		replicas: spec.Replicas,
		initial:  spec.Name + "-" + fmt.Sprint(spec.InitialLeader),
		targeted: spec.TargetedTransfer,
		servers:  map[string]*server{},
	}
}

func (r *Raft) logf(format string, args ...any) {
	r.history = append(r.history, RaftEvent{At: time.Now(), What: fmt.Sprintf(format, args...)})
}

func (r *Raft) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.violations = append(r.violations, msg)
	r.logf("VIOLATION: %s", msg)
}

// names returns the server names, sorted.
func (r *Raft) names() []string { return slices.Sorted(maps.Keys(r.servers)) }

// onPod updates the server of a pod after a watch event.
func (r *Raft) onPod(pod *corev1.Pod, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[pod.Name]
	if s == nil {
		s = &server{name: pod.Name, workload: pod.Labels[LabelRevision]}
		r.servers[pod.Name] = s
	}
	wasUp := s.up()
	switch {
	case deleted:
		if s.uid == pod.UID {
			s.exists, s.ready = false, false
		}
	case s.uid != pod.UID:
		if s.uid != "" {
			s.restarts++
			r.logf("%s restarted as %s", s.name, short(pod.UID))
		}
		s.uid, s.exists = pod.UID, true
		s.ready = PodReady(pod) && pod.DeletionTimestamp == nil
	default:
		s.exists = true
		s.ready = PodReady(pod) && pod.DeletionTimestamp == nil
	}
	r.index++
	switch up := s.up(); {
	case up && !wasUp:
		s.stable = time.Now()
		s.last = r.index
		r.logf("%s up", s.name)
	case !up && wasUp:
		r.logf("%s down", s.name)
	}
	r.advance()
	if !r.formed {
		r.tryForm()
		return
	}
	r.check(s.name)
}

// advance lets the healthy members of the configuration follow the log.
func (r *Raft) advance() {
	for _, s := range r.servers {
		if s.up() && s.present {
			s.last = r.index
		}
	}
}

func (r *Raft) tryForm() {
	var members []*server
	for _, n := range r.names() {
		s := r.servers[n]
		if s.workload == r.workload && s.up() {
			members = append(members, s)
		}
	}
	if int32(len(members)) < r.replicas {
		return
	}
	for _, s := range members {
		s.present, s.voter = true, true
	}
	r.formed, r.term = true, 1
	r.leader = r.initial
	if s := r.servers[r.leader]; s == nil || !s.up() {
		r.leader = members[0].name
	}
	r.logf("cluster formed: voters %s, leader %s, term %d", strings.Join(r.voterNames(), ","), r.leader, r.term)
}

func (r *Raft) voterNames() []string {
	var out []string
	for _, n := range r.names() {
		if s := r.servers[n]; s.present && s.voter {
			out = append(out, n)
		}
	}
	return out
}

// counts returns the voters, the healthy voters and the quorum.
func (r *Raft) counts() (voters, healthy, quorum int) {
	for _, s := range r.servers {
		if s.present && s.voter {
			voters++
			if s.up() {
				healthy++
			}
		}
	}
	return voters, healthy, voters/2 + 1
}

// check verifies the invariants after server changed, and elects a new
// leader if the leader went down.
func (r *Raft) check(changed string) {
	voters, healthy, quorum := r.counts()
	down := voters - healthy
	if down > r.maxDown {
		r.maxDown = down
	}
	// Breaches are recorded when they begin, not again while they last.
	if s2 := down > 1; s2 && !r.inS2 {
		r.violate("S2: %d voters down at once (after %s changed)", down, changed)
		r.inS2 = true
	} else if !s2 {
		r.inS2 = false
	}
	noQuorum := voters > 0 && healthy < quorum
	if noQuorum && !r.inS1 {
		r.violate("S1: %d of %d voters healthy, quorum %d", healthy, voters, quorum)
	}
	r.inS1 = noQuorum
	if l := r.servers[r.leader]; r.leader != "" && (l == nil || !l.up() || !l.present || !l.voter) {
		r.violate("S3: leader %s went down while leading", r.leader)
		r.elect("leader lost")
	}
	switch {
	case r.leader != "" && noQuorum:
		// A leader that cannot reach a quorum steps down (CheckQuorum).
		r.elect("quorum lost")
	case r.leader == "" && !noQuorum:
		r.elect("quorum regained")
	}
}

// elect makes the first healthy voter (by name) leader, or none.
func (r *Raft) elect(why string) {
	old := r.leader
	r.leader = ""
	_, healthy, quorum := r.counts()
	if healthy >= quorum {
		for _, n := range r.names() {
			if s := r.servers[n]; s.present && s.voter && s.up() && n != old {
				r.leader = n
				break
			}
		}
	}
	r.term++
	r.logf("leader %s -> %s (%s), term %d", orNone(old), orNone(r.leader), why, r.term)
}

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

// Violations returns the safety violations seen so far.
func (r *Raft) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.violations)
}

// MaxVotersDown is the largest number of voters seen down at once since
// the cluster formed.
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
// capabilities, backup readiness and hook reports.
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
		m.Raft.Healthy = s.up()
		m.Raft.LastIndex = s.last
		m.Raft.LastTerm = r.term
		if s.up() {
			m.Raft.StableSince = s.stable
		} else {
			m.Raft.LastContact = time.Hour
		}
	}
	obs.Capabilities = upgrade.Capabilities{TargetedTransfer: r.targeted, NonVoters: true, Snapshots: true}
	obs.Backup = upgrade.BackupView{Configured: true, LastSuccess: r.backup}
	obs.Hooks = slices.Clone(r.hooks)
}

// Execute carries out a Raft action on the simulated cluster (it
// implements the Kubernetes adapter's ActionExecutor). Actions already done
// succeed; impossible ones (moving leadership to a down server, demoting
// or removing the leader) fail.
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
			r.logf("step down %s: not leader (%s leads), nothing to do", a.ID, r.leader)
			return nil
		}
		old := r.leader
		for _, n := range r.names() {
			if s := r.servers[n]; n != old && s.present && s.voter && s.up() {
				r.leader = n
				break
			}
		}
		if r.leader == old {
			return fmt.Errorf("%w: %s: no other healthy voter", ErrRaft, a)
		}
		r.term++
		r.logf("leader %s -> %s (StepDown), term %d", old, r.leader, r.term)
	case upgrade.TransferLeadership:
		if !r.targeted {
			return fmt.Errorf("%w: %s: targeted transfer unsupported", ErrRaft, a)
		}
		if r.leader == a.ToID {
			return nil
		}
		if r.leader != a.FromID {
			return fmt.Errorf("%w: %s: %s is not the leader (%s is)", ErrRaft, a, a.FromID, r.leader)
		}
		to, err := get(a.ToID)
		if err != nil {
			return err
		}
		if !to.present || !to.voter || !to.up() {
			return fmt.Errorf("%w: %s: target is not a healthy voter", ErrRaft, a)
		}
		old := r.leader
		r.leader = a.ToID
		r.term++
		r.logf("leader %s -> %s (TransferLeadership), term %d", old, r.leader, r.term)
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
		s.present, s.voter, s.last = true, false, r.index
		r.logf("%s joined as non-voter", s.name)
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
		r.logf("%s promoted to voter", s.name)
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
