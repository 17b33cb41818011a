package bluegreen

import (
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// Issue 16: blue-green as real OpenBao behaves.

// TestUnexpectedPromotion: autopilot promoted green before the strategy
// decided to: it is reported (event once, gate, Degraded condition), counts
// as a voter (failures now roll back), and leadership still waits for the
// manual promotion.
func TestUnexpectedPromotion(t *testing.T) {
	now := t0.Add(time.Minute)
	obs := cluster(now, 3, "v", "v", "nv")
	st := inFlight(PhaseAwaitingPromotion, t0)
	d, err := Step(baseSpec(), obs, st)
	if err != nil {
		t.Fatal(err)
	}
	bg := d.Status.Upgrade.BlueGreen
	if !bg.UnexpectedPromotion || !bg.PromotionStarted {
		t.Fatalf("progress %+v", bg)
	}
	if d.Gate == nil || d.Gate.Reason != ReasonAwaitingPromotion {
		t.Fatalf("gate %+v: the manual promotion must still hold", d.Gate)
	}
	if c := findCond(d.Status, upgrade.ConditionDegraded); c.Status != "True" || c.Reason != string(upgrade.ReasonUnexpectedPromotion) {
		t.Fatalf("Degraded = %+v", c)
	}
	events := 0
	for _, e := range d.Events {
		if e.Reason == string(upgrade.ReasonUnexpectedPromotion) {
			events++
		}
	}
	if events != 1 || len(kinds(d.Actions)) != 0 {
		t.Fatalf("events %d, actions %v", events, d.Actions)
	}
	// The next Step reports it again in the condition but not as an event.
	d2, err := Step(baseSpec(), obs, d.Status)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d2.Events {
		if e.Reason == string(upgrade.ReasonUnexpectedPromotion) {
			t.Fatal("event repeated")
		}
	}
	if c := findCond(d2.Status, upgrade.ConditionDegraded); c.Reason != string(upgrade.ReasonUnexpectedPromotion) {
		t.Fatalf("Degraded = %+v", c)
	}
	// A failure now rolls back instead of aborting (green votes).
	spec := baseSpec()
	spec.RollbackNonce = "r"
	d3, err := Step(spec, obs, d.Status)
	if err != nil || d3.Status.Upgrade == nil || Phase(d3.Status.Upgrade.Phase) == PhaseAborting {
		t.Fatalf("rollback: %v %+v", err, d3.Status.Upgrade)
	}
	// Before any green voter the gate is the usual one.
	d4, _ := Step(baseSpec(), cluster(now, 3, "nv", "nv", "nv"), st)
	if d4.Status.Upgrade.BlueGreen.UnexpectedPromotion {
		t.Fatal("reported without a green voter")
	}
}

// TestAsynchronousMembership: with a declared membership delay a Promote is
// awaited for the whole delay and re-issued without counting a failure.
func TestAsynchronousMembership(t *testing.T) {
	obs := cluster(t0, 3, "nv", "nv", "nv")
	obs.Capabilities.MembershipDelay = 10 * time.Second
	st := inFlight(PhasePromoting, t0.Add(-time.Minute))
	d, err := Step(baseSpec(), obs, st)
	if err != nil || len(kinds(d.Actions)) != 1 || d.Actions[len(d.Actions)-1].Kind() != upgrade.KindPromote {
		t.Fatalf("first promote: %v %v", err, d.Actions)
	}
	for _, after := range []time.Duration{6 * time.Second, 9 * time.Second} {
		o := obs
		o.Now = t0.Add(after)
		d2, err := Step(baseSpec(), o, d.Status)
		if err != nil || len(kinds(d2.Actions)) != 0 || d2.Gate == nil ||
			(d2.Gate.Reason != ReasonActionPending && d2.Gate.Reason != upgrade.ReasonAwaitingEffects) {
			t.Fatalf("after %s: re-issued before the membership delay: %v %v %+v", after, err, d2.Actions, d2.Gate)
		}
	}
	st2 := d.Status
	for i := range 8 { // far more re-issues than MaxFailures
		o := obs
		o.Now = t0.Add(time.Duration(i+1) * 11 * time.Second)
		d3, err := Step(baseSpec(), o, st2)
		if err != nil || len(kinds(d3.Actions)) != 1 {
			t.Fatalf("re-issue %d: %v %v %+v", i, err, d3.Actions, d3.Gate)
		}
		if d3.Status.Upgrade.Failures != 0 || d3.Status.Upgrade.BlueGreen.RollingBack {
			t.Fatalf("re-issue %d counted as a failure: %+v", i, d3.Status.Upgrade)
		}
		st2 = d3.Status
	}
	// Without a declared delay the old rule holds: re-issues count.
	obs.Capabilities.MembershipDelay = 0
	o := obs
	o.Now = t0.Add(6 * time.Second)
	d4, _ := Step(baseSpec(), o, d.Status)
	if d4.Status.Upgrade.Failures != 1 {
		t.Fatalf("synchronous re-issue not counted: %+v", d4.Status.Upgrade)
	}
}

// TestJoinBeforeReady: a green pod whose readiness needs membership runs
// but is not Ready: it is joined anyway.
func TestJoinBeforeReady(t *testing.T) {
	obs := cluster(t0, 3, "pod", "pod", "pod")
	for i := range obs.Members {
		if obs.Members[i].Workload == greenW {
			obs.Members[i].Pod.Ready, obs.Members[i].Pod.Running = false, true
		}
	}
	obs.Lock.Holder = DefaultLockHolder
	d, err := Step(baseSpec(), obs, inFlight(PhaseDeployingGreen, t0))
	if err != nil || Phase(d.Status.Upgrade.Phase) != PhaseJoiningMesh || len(kinds(d.Actions)) != 1 ||
		d.Actions[len(d.Actions)-1].Kind() != upgrade.KindJoinNonvoter {
		t.Fatalf("join before ready: %v phase %s actions %v gate %+v", err, d.Status.Upgrade.Phase, d.Actions, d.Gate)
	}
	// A pod that is neither running nor ready is not joined.
	obs.Members[0+3].Pod.Running = false
	d, _ = Step(baseSpec(), obs, inFlight(PhaseJoiningMesh, t0))
	if len(kinds(d.Actions)) != 0 || d.Gate == nil || d.Gate.Reason != upgrade.ReasonPodNotReady {
		t.Fatalf("joined a pod that does not run: %v %+v", d.Actions, d.Gate)
	}
}

// TestLeaderFailBackReported: the green leader was lost and an election put
// a blue voter back in charge while blue still voted (issue 16, 4): it is
// reported, and leadership moves to green again.
func TestLeaderFailBackReported(t *testing.T) {
	obs := cluster(t0.Add(time.Minute), 3, "v", "v", "v") // bao-0 (blue) leads
	d, err := Step(baseSpec(), obs, inFlight(PhaseDemotingBlue, t0))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range d.Events {
		found = found || (e.Reason == string(ReasonLeaderFailedBack) && e.Type == upgrade.EventWarning)
	}
	if !found || Phase(d.Status.Upgrade.Phase) != PhaseTransferringLeadership {
		t.Fatalf("events %v phase %s", d.Events, d.Status.Upgrade.Phase)
	}
}

// TestMembershipChangesFollowEachOther is issue 10's blue-green target:
// with a host that observes every 100 ms, a membership change follows its
// predecessor as soon as the observation confirms it, not a second later.
func TestMembershipChangesFollowEachOther(t *testing.T) {
	const tick = 100 * time.Millisecond
	c := fake.New(fake.Config{Seed: 3, Replicas: 3, Version: fromV, Image: fromImg, Workload: "bao", Service: "bao",
		Tick: tick, PodStartTicks: 50, ElectionTimeout: [2]int{20, 50}, WriteRate: 1, TargetedTransfer: true})
	spec := baseSpec()
	spec.AutoPromote = true
	h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
		upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg})
	if _, err := h.RunUntilIdle(20000); err != nil {
		t.Fatal(err)
	}
	var at []int
	for _, e := range h.Entries {
		for _, a := range e.Actions {
			switch a.(type) {
			case upgrade.JoinNonvoter, upgrade.Promote, upgrade.Demote, upgrade.RemovePeer:
				at = append(at, e.Tick)
			}
		}
	}
	if len(at) != 12 { // 3 joins, 3 promotions, 3 demotions, 3 removals
		t.Fatalf("%d membership changes at ticks %v", len(at), at)
	}
	gaps := 0
	for i := 1; i < len(at); i++ {
		if d := at[i] - at[i-1]; d <= 2 {
			gaps++
		}
	}
	t.Logf("membership changes at ticks %v (one tick is %s)", at, tick)
	// Within each run of joins, promotions, demotions and removals, the next
	// change follows within two observations (200 ms).
	if gaps < 8 {
		t.Errorf("only %d of 11 membership changes followed their predecessor within 200 ms: %v", gaps, at)
	}
}
