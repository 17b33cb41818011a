package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
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
	// What describes it ("leader bao-2 elected ...", "bao-2 down").
	What string
}

// CatchUp is one catch-up of a server that came back (a restarted pod) or
// joined the configuration: from Up, when it started serving (or joined),
// to CaughtUp, when it had replayed the leader's log.
type CatchUp struct {
	Server string
	UID    types.UID
	// Up is when it started catching up, CaughtUp when it had.
	Up, CaughtUp time.Time
}

// Election is one leader election of the simulated Raft.
type Election struct {
	// Why it was held ("StepDown", "leader lost", "quorum regained").
	Why string
	// Lost is when the cluster lost its leader, At when the election was
	// decided: At-Lost is the seeded election delay.
	Lost, At time.Time
	// Winner is the new leader ("" when the election failed for want of
	// a quorum of healthy voters), Term the new term.
	Winner string
	Term   uint64
}

// server is the simulated Raft server of one pod name.
type server struct {
	name     string
	workload string
	uid      types.UID
	// exists, ready and terminating follow the pod incarnation uid.
	exists, ready, terminating bool
	present, voter             bool
	// caughtUp: the server has replayed the leader's log since it last
	// came up or joined.
	caughtUp bool
	// catchUp numbers the server's catch-ups, to drop a stale timer.
	catchUp  int
	last     uint64
	lastTerm uint64
	stable   time.Time
	restarts int
}

// up reports whether the server process serves: its pod incarnation exists,
// is ready and is not shutting down.
func (s *server) up() bool { return s.exists && s.ready && !s.terminating }

// healthy reports whether the server serves and has caught up with the
// leader's log (autopilot's "healthy").
func (s *server) healthy() bool { return s.up() && s.caughtUp }

// Raft simulates the Raft cluster of a RaftSet's pods: one server per pod
// name, serving while its pod exists, is ready and is not terminating (a
// pod with a deletion timestamp has received SIGTERM: its server is
// shutting down and no longer counts). A recreated pod (new UID) is a
// server restart: the member is down until the new incarnation is ready,
// then catching up — serving but not healthy, its log behind the leader's —
// for a seeded random lag (SetSpec.CatchUpLag), and only then healthy. A
// server joining the configuration catches up the same way. The cluster
// forms when all the initial StatefulSet's replicas are first ready, every
// one a voter, with SetSpec.InitialLeader leading.
//
// Elections take time: when the leader steps down, goes down or loses its
// quorum, the cluster has no leader for a seeded random delay
// (SetSpec.ElectionTimeout) and then a seeded random healthy voter wins
// (not the one that stepped down); no voter can win while fewer than a
// quorum are healthy. A targeted transfer is immediate.
//
// Every change is checked against the Raft safety invariants of the design
// (S1 quorum, S2 one voter disrupted at a time, S3 the leader never goes
// down while leading), counting a voter that is catching up as disrupted;
// breaches are kept in Violations.
type Raft struct {
	mu         sync.Mutex
	ctx        context.Context
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

	seed       uint64
	rng        *rand.Rand
	lag        time.Duration
	electMin   time.Duration
	electing   bool
	electGen   int
	leaderLost time.Time
	catchUps   []CatchUp
	elections  []Election
}

func newRaft(ctx context.Context, spec SetSpec, seed uint64) *Raft {
	r := &Raft{
		ctx:      ctx,
		workload: spec.Name,
		replicas: spec.Replicas,
		initial:  spec.Name + "-" + fmt.Sprint(spec.InitialLeader),
		targeted: spec.TargetedTransfer,
		servers:  map[string]*server{},
		seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		lag:      max(spec.CatchUpLag, 0),
		electMin: max(spec.ElectionTimeout, 0),
	}
	r.logf("seed %d: catch-up lag in [%s, %s), election delay in [%s, %s)", seed, r.lag, 2*r.lag, r.electMin, 2*r.electMin)
	return r
}

func (r *Raft) logf(format string, args ...any) {
	r.history = append(r.history, RaftEvent{At: time.Now(), What: fmt.Sprintf(format, args...)})
}

func (r *Raft) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.violations = append(r.violations, msg)
	r.logf("VIOLATION: %s", msg)
}

// draw returns a seeded random duration in [d, 2d) (0 when d is 0).
func (r *Raft) draw(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(r.rng.Int64N(int64(d)))
}

// after runs f under the lock after d, unless the RaftSet has ended.
func (r *Raft) after(d time.Duration, f func()) {
	time.AfterFunc(d, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.ctx.Err() != nil {
			return
		}
		f()
	})
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
	wasUp, wasTerminating := s.up(), s.terminating
	switch {
	case deleted:
		if s.uid == pod.UID && s.exists {
			s.exists, s.ready = false, false
			r.logf("%s gone (pod %s deleted)", s.name, short(pod.UID))
		}
	case s.uid != pod.UID:
		if s.uid != "" {
			s.restarts++
			r.logf("%s restarted as %s", s.name, short(pod.UID))
		}
		s.uid, s.exists, wasTerminating = pod.UID, true, false
		s.ready, s.terminating = PodReady(pod), pod.DeletionTimestamp != nil
	default:
		s.exists = true
		s.ready, s.terminating = PodReady(pod), pod.DeletionTimestamp != nil
	}
	if s.terminating && !wasTerminating && s.exists {
		r.logf("%s shutting down (pod %s terminating)", s.name, short(s.uid))
	}
	r.index++
	switch up := s.up(); {
	case up && !wasUp:
		if r.formed && s.present {
			r.startCatchUp(s, "up")
		} else {
			r.logf("%s up", s.name)
		}
	case !up && wasUp:
		s.caughtUp = false
		s.catchUp++ // a pending catch-up is void
		r.logf("%s down", s.name)
	}
	r.advance()
	if !r.formed {
		r.tryForm()
		return
	}
	r.check(s.name)
}

// startCatchUp makes s catch up with the leader's log for a seeded random
// lag: it serves but is not healthy, and its log stays where it was.
func (r *Raft) startCatchUp(s *server, why string) {
	s.caughtUp = false
	s.catchUp++
	gen, uid, begin := s.catchUp, s.uid, time.Now()
	lag := r.draw(r.lag)
	r.logf("%s %s, catching up (%s)", s.name, why, lag.Round(time.Millisecond))
	done := func() {
		if s.catchUp != gen || s.uid != uid || !s.up() || !s.present {
			return
		}
		s.caughtUp = true
		s.stable = time.Now()
		s.last, s.lastTerm = r.index, r.term
		r.catchUps = append(r.catchUps, CatchUp{Server: s.name, UID: uid, Up: begin, CaughtUp: s.stable})
		r.logf("%s caught up after %s", s.name, s.stable.Sub(begin).Round(time.Millisecond))
		r.check(s.name)
	}
	if lag == 0 {
		done()
		return
	}
	r.after(lag, done)
}

// advance lets the healthy members of the configuration follow the log.
func (r *Raft) advance() {
	for _, s := range r.servers {
		if s.healthy() && s.present {
			s.last, s.lastTerm = r.index, r.term
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
	r.formed, r.term = true, 1
	now := time.Now()
	for _, s := range members {
		s.present, s.voter, s.caughtUp, s.stable = true, true, true, now
		s.last, s.lastTerm = r.index, r.term
	}
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
			if s.healthy() {
				healthy++
			}
		}
	}
	return voters, healthy, voters/2 + 1
}

// check verifies the invariants after server changed, and starts an
// election when the leader went down, lost its quorum, or when the cluster
// has none and could elect one.
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
		r.loseLeader("leader lost", "")
	}
	switch {
	case r.leader != "" && noQuorum:
		// A leader that cannot reach a quorum steps down (CheckQuorum).
		r.loseLeader("quorum lost", "")
	case r.leader == "" && !noQuorum:
		r.scheduleElection("quorum regained", "")
	}
}

// loseLeader leaves the cluster without a leader and schedules an election
// that exclude may not win.
func (r *Raft) loseLeader(why, exclude string) {
	old := r.leader
	r.leader = ""
	r.leaderLost = time.Now()
	r.logf("leader %s lost (%s), term %d", orNone(old), why, r.term)
	r.electing = false // a pending election is for the old state
	r.electGen++
	r.scheduleElection(why, exclude)
}

// scheduleElection decides an election after a seeded random delay,
// unless one is pending.
func (r *Raft) scheduleElection(why, exclude string) {
	if r.electing || r.leader != "" {
		return
	}
	if r.leaderLost.IsZero() {
		r.leaderLost = time.Now()
	}
	r.electing = true
	r.electGen++
	gen := r.electGen
	d := r.draw(r.electMin)
	elect := func() {
		if gen != r.electGen {
			return
		}
		r.electing = false
		r.elect(why, exclude)
	}
	if d == 0 {
		elect()
		return
	}
	r.after(d, elect)
}

// elect picks a seeded random healthy voter other than exclude as leader,
// if a quorum of voters is healthy.
func (r *Raft) elect(why, exclude string) {
	if r.leader != "" {
		return
	}
	_, healthy, quorum := r.counts()
	var candidates []string
	for _, n := range r.names() {
		if s := r.servers[n]; s.present && s.voter && s.healthy() && n != exclude {
			candidates = append(candidates, n)
		}
	}
	r.term++
	e := Election{Why: why, Lost: r.leaderLost, At: time.Now(), Term: r.term}
	if healthy < quorum || len(candidates) == 0 {
		r.elections = append(r.elections, e)
		r.logf("election for term %d failed (%s): %d of quorum %d voters healthy", r.term, why, healthy, quorum)
		return // retried by check once a quorum is healthy
	}
	r.leader = candidates[r.rng.IntN(len(candidates))]
	e.Winner = r.leader
	r.elections = append(r.elections, e)
	r.leaderLost = time.Time{}
	r.logf("leader %s elected (%s) after %s, term %d", r.leader, why, e.At.Sub(e.Lost).Round(time.Millisecond), r.term)
	r.advance()
}
