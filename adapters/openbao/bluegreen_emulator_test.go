package openbao_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/adapters/openbao/openbaotest"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// bgRun is one blue-green upgrade driven through the OpenBao adapter
// against the API emulator: the Kubernetes part of each observation comes
// from the fake, the Raft part from the adapter's own reads, and Raft
// actions go through Adapter.Execute.
type bgRun struct {
	t    *testing.T
	em   *openbaotest.Emulator
	ad   *openbao.Adapter
	spec bluegreen.Spec

	status upgrade.Status
	green  string // green workload, once known

	// measured
	ticks          int
	reissued       int             // membership actions issued again with the same key
	reissuedKind   map[string]int  // re-issues by action kind
	notJoined      int             // JoinNonvoter failing with ErrNotJoined (self-join)
	unknownViews   int             // observations whose Raft view Read could not complete
	promoteIssued  map[string]bool // green members the strategy promoted
	unexpectedEvts int             // UnexpectedPromotion events
	sawUnexpected  bool            // Status...BlueGreen.UnexpectedPromotion seen
	earlyVoters    map[string]int  // green voters seen before their Promote, by first tick
	failuresGrew   []string        // steps where Upgrade.Failures grew
	lastMember     string          // key of the last membership action issued
	log            []string        // timeline, for failure messages
}

// scenario is one cluster configuration.
type scenario struct {
	seed uint64
	mode openbao.JoinMode
	// autoPromoteTicks is fake.Config.AutoPromoteTicks (autopilot promoting
	// API joins).
	autoPromoteTicks int
	// reconcileTicks is fake.Config.MembershipDelayTicks (0: 10, the
	// adapter's declared autopilot reconcile interval).
	reconcileTicks int
	// selfJoinDelay is openbaotest.Options.SelfJoinDelay.
	selfJoinDelay int
}

// newBGRun builds the cluster of the documented OpenBao configuration:
// readiness needs membership, promote/demote land at autopilot's next
// reconcile, stable_since behaves as autopilot's.
func newBGRun(t *testing.T, sc scenario) *bgRun {
	t.Helper()
	if sc.reconcileTicks == 0 {
		sc.reconcileTicks = 10
	}
	c := fake.New(fake.Config{
		Seed:                 sc.seed,
		Replicas:             3,
		Version:              "2.3.0",
		Readiness:            fake.ReadyWhenMember,
		AutopilotQuirks:      true,
		MembershipDelayTicks: sc.reconcileTicks,
		AutoPromoteTicks:     sc.autoPromoteTicks,
	})
	em := openbaotest.New(c, openbaotest.Options{SelfJoin: sc.mode == openbao.JoinSelf, SelfJoinDelay: sc.selfJoinDelay})
	t.Cleanup(em.Close)
	active, err := em.ActiveClient()
	if err != nil {
		t.Fatal(err)
	}
	return &bgRun{
		t:  t,
		em: em,
		ad: &openbao.Adapter{Active: active, Clients: em.Client, JoinMode: sc.mode},
		spec: bluegreen.Spec{
			Version: "2.4.0", Image: "openbao/openbao:2.4.0", AutoPromote: true,
		},
		promoteIssued: map[string]bool{},
		earlyVoters:   map[string]int{},
		reissuedKind:  map[string]int{},
	}
}

func isMembership(a upgrade.Action) (string, bool) {
	switch x := a.(type) {
	case upgrade.JoinNonvoter:
		return "JoinNonvoter:" + x.Member, true
	case upgrade.Promote:
		return "Promote:" + x.Member, true
	case upgrade.Demote:
		return "Demote:" + x.Member, true
	case upgrade.RemovePeer:
		return "RemovePeer:" + x.Member, true
	}
	return "", false
}

// step runs one reconcile and one tick. It reports whether the upgrade is
// over (idle with a result).
func (r *bgRun) step(ctx context.Context) bool {
	t := r.t
	t.Helper()
	tick := r.em.TickCount()
	obs, err := r.ad.Observe(ctx, r.em.KubernetesObservation())
	if err != nil {
		// A view the adapter could not read completely (no leader during an
		// election): obs is unknown or partial and Step must hold.
		if errors.Is(err, openbao.ErrConfig) {
			t.Fatalf("tick %d: observe: %v", tick, err)
		}
		r.unknownViews++
	}
	prev := r.status.DeepCopy()
	d, err := bluegreen.Step(r.spec, obs, *prev)
	if err != nil {
		t.Fatalf("tick %d: step: %v\n%s", tick, err, strings.Join(r.log, "\n"))
	}
	if err := check.Decision(obs, d.Actions, check.Options{CatchUp: r.spec.CatchUp}); err != nil {
		t.Fatalf("tick %d: decision %v breaks safety: %v\n%s", tick, d.Actions, err, strings.Join(r.log, "\n"))
	}
	if u := d.Status.Upgrade; u != nil {
		if u.BlueGreen != nil {
			r.green = u.BlueGreen.Green
			r.sawUnexpected = r.sawUnexpected || u.BlueGreen.UnexpectedPromotion
		}
		if p := r.status.Upgrade; p != nil && u.Failures > p.Failures {
			r.failuresGrew = append(r.failuresGrew, fmt.Sprintf("tick %d: failures %d -> %d after %s", tick, p.Failures, u.Failures, u.BlueGreen.LastAction))
		}
	}
	for _, ev := range d.Events {
		if ev.Reason == string(upgrade.ReasonUnexpectedPromotion) {
			r.unexpectedEvts++
			if ev.Type != upgrade.EventWarning {
				t.Errorf("tick %d: UnexpectedPromotion event of type %s", tick, ev.Type)
			}
		}
	}
	for _, a := range d.Actions {
		if p, ok := a.(upgrade.Promote); ok {
			r.promoteIssued[p.Member] = true
		}
		if key, ok := isMembership(a); ok {
			if key == r.lastMember {
				r.reissued++
				r.reissuedKind[string(a.Kind())]++
			}
			r.lastMember = key
		}
	}
	r.status = persist(t, d.Status)

	line := fmt.Sprintf("t=%d leader=%s phase=%s", tick, obs.Raft.LeaderID, phaseOf(r.status))
	if d.Gate != nil {
		line += fmt.Sprintf(" gate=%s/%s", d.Gate.Name, d.Gate.Reason)
	}
	for _, a := range d.Actions {
		err := r.execute(ctx, &obs, a)
		line += " | " + a.String()
		if err != nil {
			if _, join := a.(upgrade.JoinNonvoter); join && r.ad.JoinMode == openbao.JoinSelf && errors.Is(err, openbao.ErrNotJoined) {
				r.notJoined++
				line += " (not joined yet)"
			} else {
				t.Errorf("tick %d: %s failed: %v", tick, a, err)
			}
			break
		}
	}
	r.log = append(r.log, line)
	r.em.Tick()
	r.ticks = r.em.TickCount()
	r.checkTruth()
	return r.status.Upgrade == nil && r.status.LastResult != nil
}

// execute routes an action: Raft actions through the adapter (the
// emulated OpenBao API), the rest to the cluster as the Kubernetes adapter
// would apply them.
func (r *bgRun) execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	if openbao.Handles(a.Kind()) {
		return r.ad.Execute(ctx, obs, a)
	}
	_, err := r.em.Apply([]upgrade.Action{a})
	return err
}

// checkTruth records green members that vote in the cluster's truth
// before the strategy issued their Promote.
func (r *bgRun) checkTruth() {
	if r.green == "" {
		return
	}
	for _, m := range r.em.Truth().Members {
		if m.Workload == r.green && m.Raft.Present && m.Raft.Suffrage == upgrade.Voter && !r.promoteIssued[m.Name] {
			if _, seen := r.earlyVoters[m.Name]; !seen {
				r.earlyVoters[m.Name] = r.em.TickCount()
			}
		}
	}
}

// run drives the upgrade to its end, at most maxTicks ticks.
func (r *bgRun) run(maxTicks int) {
	r.t.Helper()
	ctx := context.Background()
	for r.em.TickCount() < maxTicks {
		if r.step(ctx) {
			return
		}
	}
	r.t.Fatalf("upgrade not finished after %d ticks (phase %s)\n%s", maxTicks, phaseOf(r.status), strings.Join(r.log, "\n"))
}

// assertCompleted checks the end state and the cluster's history.
func (r *bgRun) assertCompleted() fake.Metrics {
	t := r.t
	t.Helper()
	lr := r.status.LastResult
	if lr == nil || lr.Outcome != upgrade.OutcomeSucceeded {
		t.Fatalf("last result %+v, want Succeeded\n%s", lr, strings.Join(r.log, "\n"))
	}
	if r.status.CurrentVersion != r.spec.Version || r.status.CurrentImage != r.spec.Image {
		t.Errorf("current %s (%s), want %s (%s)", r.status.CurrentVersion, r.status.CurrentImage, r.spec.Version, r.spec.Image)
	}
	truth := r.em.Truth()
	voters := 0
	for _, m := range truth.Members {
		if m.Raft.Present && m.Raft.Suffrage == upgrade.Voter {
			voters++
			if m.Workload != r.green || m.Version != r.spec.Version {
				t.Errorf("voter %s of %s at %s after the upgrade", m.Name, m.Workload, m.Version)
			}
		}
	}
	if voters != 3 || truth.Service.Workload != r.green {
		t.Errorf("after the upgrade: %d voters, service on %q, want 3 on %q", voters, truth.Service.Workload, r.green)
	}
	if l, ok := truth.Leader(); !ok || l.Workload != r.green {
		t.Errorf("leader %+v is not green", l.Name)
	}
	h := r.em.History()
	if err := check.History(h, true); err != nil {
		t.Errorf("history: %v", err)
	}
	return fake.Summarize(h)
}

func persist(t *testing.T, st upgrade.Status) upgrade.Status {
	t.Helper()
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatalf("persist status: %v", err)
	}
	var out upgrade.Status
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("load status: %v", err)
	}
	return out
}

func phaseOf(st upgrade.Status) string {
	if st.Upgrade == nil {
		return "Idle"
	}
	return st.Upgrade.Phase
}

// seeds are the election seeds each scenario runs with.
var seeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8}

// TestBlueGreenSelfJoinThroughEmulator drives a blue-green upgrade through
// the adapter in the documented configuration: green servers join by
// themselves as permanent non-voters, readiness needs membership and
// promotions land at autopilot's next reconcile. Green never votes before
// the strategy promotes it, waiting for the joins and the reconciles is
// never counted as a failure, and the upgrade completes.
func TestBlueGreenSelfJoinThroughEmulator(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			// Autopilot would promote API-joined servers after 12 ticks; it
			// never promotes servers that joined by themselves as
			// permanent non-voters.
			r := newBGRun(t, scenario{seed: seed, mode: openbao.JoinSelf, autoPromoteTicks: 12})
			r.run(900)
			m := r.assertCompleted()

			if len(r.earlyVoters) > 0 {
				t.Errorf("green members voting before the strategy promoted them: %v", r.earlyVoters)
			}
			if len(r.failuresGrew) > 0 {
				t.Errorf("failures counted: %v", r.failuresGrew)
			}
			if r.unexpectedEvts > 0 || r.sawUnexpected {
				t.Errorf("UnexpectedPromotion reported (%d events) though green joined as permanent non-voters", r.unexpectedEvts)
			}
			if r.notJoined == 0 {
				t.Error("no JoinNonvoter found green not joined yet: the strategy did not wait for the self-join")
			}
			if got := r.em.SelfJoined(); len(got) != 3 || !strings.HasPrefix(got[0], r.green+"-") {
				t.Errorf("self-joined %v, want the three members of %s", got, r.green)
			}
			if len(r.promoteIssued) != 3 {
				t.Errorf("promote issued for %v, want every green member", r.promoteIssued)
			}
			if n := r.em.Requests()["active PUT /v1/"+openbao.PathPromote]; n < 3 {
				t.Errorf("%d promote calls reached the active node, want at least 3", n)
			}
			for k, n := range r.em.Requests() {
				if strings.HasSuffix(k, " /v1/"+openbao.PathJoin) {
					t.Errorf("%d join calls (%s) in self-join mode", n, k)
				}
			}
			t.Logf("self-join seed %d: %d ticks, %d re-issued membership actions, %d JoinNonvoter not joined yet, %d unknown views, %d leader changes, %d ticks without a leader (longest %d), %d not writable",
				seed, r.ticks, r.reissued, r.notJoined, r.unknownViews, m.LeaderChanges, m.TicksWithoutLeader, m.LongestLeaderless, m.TicksNotWritable)
		})
	}
}

// TestBlueGreenAPIJoinThroughEmulator is the same cluster with green
// joined through sys/storage/raft/join: OpenBao drops the non_voter flag
// and autopilot (AutoPromoteTicks) promotes green before the strategy
// decided anything. The strategy reports it (a Warning event and the
// status flag) and still completes safely.
func TestBlueGreenAPIJoinThroughEmulator(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := newBGRun(t, scenario{seed: seed, mode: openbao.JoinAPI, autoPromoteTicks: 12})
			r.run(900)
			m := r.assertCompleted()

			if r.unexpectedEvts != 1 || !r.sawUnexpected {
				t.Errorf("UnexpectedPromotion: %d events, status flag %v; want 1 and true", r.unexpectedEvts, r.sawUnexpected)
			}
			if len(r.earlyVoters) == 0 {
				t.Error("no green member voted before its Promote: autopilot did not promote API joins")
			}
			if len(r.failuresGrew) > 0 {
				t.Errorf("failures counted: %v", r.failuresGrew)
			}
			if r.notJoined > 0 || len(r.em.SelfJoined()) > 0 {
				t.Errorf("self-join behaviour in API mode: %d not joined, %v self-joined", r.notJoined, r.em.SelfJoined())
			}
			joins := 0
			for k, n := range r.em.Requests() {
				if strings.HasSuffix(k, "POST /v1/"+openbao.PathJoin) {
					joins += n
				}
			}
			if joins != 3 {
				t.Errorf("%d join calls, want one per green member", joins)
			}
			t.Logf("api-join seed %d: %d ticks, %d re-issued membership actions, early voters %v, %d unknown views, %d leader changes, %d ticks without a leader (longest %d), %d not writable",
				seed, r.ticks, r.reissued, r.earlyVoters, r.unknownViews, m.LeaderChanges, m.TicksWithoutLeader, m.LongestLeaderless, m.TicksNotWritable)
		})
	}
}

// TestBlueGreenReissuesThroughEmulator slows the cluster down past what the
// adapter declares: servers join by themselves 25 ticks after they start
// (retry_join backing off) and autopilot reconciles every 15 ticks while
// the adapter declares 10 s. The strategy re-issues JoinNonvoter, Promote
// and Demote; OpenBao answers the re-issued promote and demote with HTTP
// 500 ("server is not a non-voter", "server is already a non-voter"),
// which the adapter takes for success, and none of it counts as a
// failure.
func TestBlueGreenReissuesThroughEmulator(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := newBGRun(t, scenario{seed: seed, mode: openbao.JoinSelf, reconcileTicks: 15, selfJoinDelay: 25})
			r.run(900)
			m := r.assertCompleted()
			for _, kind := range []upgrade.ActionKind{upgrade.KindJoinNonvoter, upgrade.KindPromote, upgrade.KindDemote} {
				if r.reissuedKind[string(kind)] == 0 {
					t.Errorf("no %s re-issued (re-issues %v)", kind, r.reissuedKind)
				}
			}
			if len(r.failuresGrew) > 0 {
				t.Errorf("re-issues counted as failures: %v", r.failuresGrew)
			}
			if len(r.earlyVoters) > 0 || r.unexpectedEvts > 0 {
				t.Errorf("green voting before its Promote: %v (%d UnexpectedPromotion events)", r.earlyVoters, r.unexpectedEvts)
			}
			reqs := r.em.Requests()
			if reqs["active PUT /v1/"+openbao.PathPromote] <= 3 || reqs["active PUT /v1/"+openbao.PathDemote] <= 3 {
				t.Errorf("promote/demote calls %d/%d: the re-issues did not reach OpenBao",
					reqs["active PUT /v1/"+openbao.PathPromote], reqs["active PUT /v1/"+openbao.PathDemote])
			}
			t.Logf("slow cluster seed %d: %d ticks, re-issued %v, %d JoinNonvoter not joined yet, %d leader changes, %d ticks without a leader (longest %d)",
				seed, r.ticks, r.reissuedKind, r.notJoined, m.LeaderChanges, m.TicksWithoutLeader, m.LongestLeaderless)
		})
	}
}
