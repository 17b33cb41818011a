package rolling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// Versions used by the property tests: the cluster starts on propFrom; the
// spec targets one of propTargets and may change mid-upgrade; propRescue is
// never bad and is what the simulated operator switches to when an upgrade
// pauses on a crash-looping version.
const (
	propFrom   = "2.3.0"
	propRescue = "2.4.2"
)

var propTargets = []string{"2.4.0", "2.4.1", propFrom}

// debugProperty logs every decision of the property test (RAPID_DEBUG_STEPS=1).
var debugProperty = os.Getenv("RAPID_DEBUG_STEPS") != ""

func img(v string) string { return "openbao/openbao:" + v }

// machine is the state of one property-test run.
type machine struct {
	c      *fake.Cluster
	spec   Spec
	status upgrade.Status
	n      int
	faults bool
	// stale is true when the next observation was made stale.
	stale bool
	// start is the history length when Step first ran.
	start int
	steps int
	// bad is the version injected as bad ("" for none).
	bad string
	// hostCrashed is set once the host crashed between Step and the end of
	// executing or persisting a decision (re-issued actions may then be
	// refused by the cluster).
	hostCrashed bool
}

func (m *machine) safety(obs *upgrade.Observation) upgrade.Safety {
	return upgrade.Safety{CatchUp: m.spec.CatchUp, AllowDowntime: m.spec.AllowDowntime && len(obs.Voters()) <= 2}
}

// hostFault is how a reconcile's host misbehaves.
type hostFault int

const (
	hostOK         hostFault = iota
	hostCrashMid             // persists the status, executes a prefix of the actions, crashes
	hostLoseStatus           // executes the actions, crashes before persisting the status
)

// reconcile observes, steps, checks and applies one decision.
func (m *machine) reconcile(t *rapid.T) upgrade.Decision {
	return m.reconcileWith(t, hostOK)
}

func (m *machine) reconcileWith(t *rapid.T, fault hostFault) upgrade.Decision {
	fresh := !m.stale
	m.stale = false
	obs := m.c.Observe()
	var truth upgrade.Observation
	if fresh {
		truth = m.c.Truth()
	}
	prev := m.status
	obsCopy, stCopy := obs.DeepCopy(), prev.DeepCopy()
	d, err := Step(m.spec, obs, prev)
	m.steps++
	stepsGenerated.Add(1)
	if err != nil {
		t.Fatalf("tick %d: step error: %v", m.c.TickCount(), err)
	}
	if !reflect.DeepEqual(*obsCopy, obs) || !reflect.DeepEqual(*stCopy, prev) {
		t.Fatalf("tick %d: Step mutated its inputs", m.c.TickCount())
	}
	if d2, _ := Step(m.spec, obs, prev); !reflect.DeepEqual(d, d2) {
		t.Fatalf("tick %d: Step is not deterministic", m.c.TickCount())
	}
	// A Step that only waits (no actions, nothing to report) is a fixed
	// point: on the same observation it
	// returns its own status byte for byte (a host never writes status
	// while nothing changes).
	if len(d.Actions) == 0 && len(d.Events) == 0 && d.Gate != nil {
		d3, err := Step(m.spec, obs, d.Status)
		a, _ := json.Marshal(d.Status)
		b, _ := json.Marshal(d3.Status)
		if err != nil || len(d3.Actions) != 0 || string(a) != string(b) {
			t.Fatalf("tick %d: a waiting Step is not a fixed point: %v\n%s\n%s", m.c.TickCount(), err, a, b)
		}
	}
	if m.n >= 3 {
		if err := (upgrade.Safety{}).Check(obs, d.Actions); err != nil {
			t.Fatalf("tick %d: unsafe against the observation: %v\n%s", m.c.TickCount(), err, upgrade.FormatActions(d.Actions))
		}
	}
	if err := m.safety(&obs).Check(obs, d.Actions); err != nil {
		t.Fatalf("tick %d: unsafe against the observation: %v", m.c.TickCount(), err)
	}
	if fresh {
		if err := m.safety(&truth).Check(truth, d.Actions); err != nil {
			t.Fatalf("tick %d: unsafe against the truth: %v", m.c.TickCount(), err)
		}
	}
	checkS5(t, prev, d.Status)
	m.checkHold(t, &obs, &prev, &d)
	if _, ok := upgrade.RegressedLeader(prev.Upgrade, &obs); ok {
		regressionsSeen.Add(1)
	}
	if err := check.Failback(prev, d, obs); err != nil { // S8
		t.Fatalf("tick %d: %v\n%s", m.c.TickCount(), err, upgrade.FormatActions(d.Actions))
	}
	if d.Gate != nil && meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionProgressing) == nil {
		t.Fatalf("gate %v not surfaced", d.Gate)
	}
	if debugProperty {
		ph, g := "-", ""
		if d.Status.Upgrade != nil {
			ph = d.Status.Upgrade.Phase
		}
		if d.Gate != nil {
			g = string(d.Gate.Reason)
		}
		t.Logf("step tick=%d fresh=%v fault=%d now=%s phase=%s gate=%s part=%d lock=%q actions=%v", m.c.TickCount(), fresh, fault,
			obs.Now.Format("15:04:05"), ph, g, obs.Workloads[0].Partition, obs.Lock.Holder, d.Actions)
	}
	actions := d.Actions
	switch fault {
	case hostOK:
		m.status = d.Status
	case hostCrashMid:
		m.status = d.Status
		actions = actions[:rapid.IntRange(0, len(actions)).Draw(t, "executed")]
		m.hostCrashed = true
	case hostLoseStatus:
		m.hostCrashed = true
	}
	if _, err := m.c.Apply(actions); err != nil && !m.faults && m.bad == "" && !m.hostCrashed {
		t.Fatalf("tick %d: a fault-free cluster refused %s: %v", m.c.TickCount(), upgrade.FormatActions(d.Actions), err)
	}
	return d
}

// checkS5 checks atomic completion: the current version changes only in
// the status where the upgrade ends (or by adoption while idle), the
// upgrade ends only by setting the current version to its target, and
// while an upgrade is in flight the current version stays at the version
// it started from.
func checkS5(t *rapid.T, prev, next upgrade.Status) {
	switch {
	case next.Upgrade != nil:
		if next.CurrentVersion != next.Upgrade.FromVersion || next.CurrentImage != next.Upgrade.FromImage {
			t.Fatalf("S5: current %s/%s differs from the upgrade's origin %s/%s mid-upgrade",
				next.CurrentVersion, next.CurrentImage, next.Upgrade.FromVersion, next.Upgrade.FromImage)
		}
	case prev.Upgrade != nil: // the upgrade ended in this status
		if next.CurrentVersion != prev.Upgrade.TargetVersion || next.CurrentImage != prev.Upgrade.TargetImage {
			t.Fatalf("S5: upgrade to %s ended with current %s", prev.Upgrade.TargetVersion, next.CurrentVersion)
		}
		if next.LastResult == nil {
			t.Fatalf("S5: upgrade ended without a result")
		}
	default:
		if next.CurrentVersion != prev.CurrentVersion && prev.CurrentVersion != "" {
			t.Fatalf("S5: current version changed from %s to %s while idle", prev.CurrentVersion, next.CurrentVersion)
		}
	}
}

func (m *machine) advance(t *rapid.T, ticks int) {
	for range ticks {
		m.reconcile(t)
		m.c.Tick()
	}
}

func (m *machine) restart(t *rapid.T) {
	raw, err := json.Marshal(m.status)
	if err != nil {
		t.Fatal(err)
	}
	var st upgrade.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	m.status = st
}

func (m *machine) member(t *rapid.T) string {
	return fmt.Sprintf("bao-%d", rapid.IntRange(0, m.n-1).Draw(t, "member"))
}

// history returns the records since Step first ran.
func (m *machine) history() []fake.Record { return m.c.History()[m.start:] }

// TestPropertyRollingUpgrade is the state-machine property test of Step
// over the fake cluster. Each check draws a cluster (1–9 replicas,
// AllowDowntime for 1–2, targeted transfer or not, maybe a bad target
// version, a random first leader, adoption or a known current version) and
// a random sequence of: ticks of the host loop, host restarts (JSON round
// trip of the status), host crashes after persisting the status and
// executing only a prefix of the actions, host crashes after executing the
// actions without persisting the status, target changes, and — in fault
// runs — killed pods, a killed leader, isolated and healed members, slow
// followers and stale observations.
//
// After every Decision: the actions pass upgrade.Safety.Check (3+ replicas;
// the downtime-allowing Safety for 1–2) against the observation Step was
// given, and against the cluster's truth when that observation was fresh;
// S5 holds (see checkS5); Step did not mutate its inputs and is
// deterministic. After the run: faults stop (HealAll) and within
// 300+60·replicas ticks the cluster is idle on the spec's version (a
// crash-looping target pauses; the simulated operator then sets a good
// version; a target refused by policy is replaced by the current version),
// stays idle, runs that version everywhere with the lock free and the
// partition at 0; fake.CheckHistory passes; without faults at most one
// voter is down at any tick, the quorum is never lost (3+ replicas), the
// cluster is writable at every tick with targeted transfer and leaderless
// for at most one election otherwise.
func TestPropertyRollingUpgrade(t *testing.T) {
	var checks, paused, refused, reverted, windowRuns int
	rapid.Check(t, func(t *rapid.T) {
		checks++
		m := &machine{
			n:      rapid.IntRange(1, 9).Draw(t, "replicas"),
			faults: rapid.Bool().Draw(t, "faults"),
		}
		targeted := rapid.Bool().Draw(t, "targetedTransfer")
		target := rapid.SampledFrom(propTargets[:2]).Draw(t, "target")
		if rapid.IntRange(0, 4).Draw(t, "badVersion") == 0 {
			m.bad = rapid.SampledFrom(propTargets[:2]).Draw(t, "bad")
		}
		cfg := fake.Config{Seed: rapid.Uint64().Draw(t, "seed"), Replicas: m.n, Version: propFrom, TargetedTransfer: targeted,
			AutopilotQuirks: rapid.Bool().Draw(t, "autopilotQuirks"), HandoffOnShutdown: rapid.Bool().Draw(t, "handoffOnShutdown")}
		if rapid.Bool().Draw(t, "onDelete") {
			cfg.UpdateStrategy = upgrade.UpdateOnDelete
		}
		if m.bad != "" {
			cfg.BadVersions = []string{m.bad}
		}
		windows := rapid.IntRange(0, 2).Draw(t, "windows") == 0
		if windows {
			// start anywhere in the three-hour cycle of propWindows
			cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 179).Draw(t, "startMinute")) * time.Minute)
		}
		m.c = fake.New(cfg)
		// a random initial leader
		if l, ok := func() (upgrade.Member, bool) { o := m.c.Truth(); return o.Leader() }(); ok && rapid.Bool().Draw(t, "stepDown") {
			if _, err := m.c.Apply([]upgrade.Action{upgrade.StepDown{Member: l.Name}}); err != nil {
				t.Fatal(err)
			}
			m.c.Run(20)
		}
		m.start = len(m.c.History())
		m.spec = Spec{Version: target, Image: img(target), AllowDowntime: m.n <= 2, StepTimeout: metav1.Duration{Duration: 2 * time.Hour}}
		if windows {
			m.spec.MaintenanceWindows = propWindows()
			windowRuns++
		}
		m.spec.Paused = rapid.IntRange(0, 3).Draw(t, "startPaused") == 0
		if rapid.Bool().Draw(t, "early") {
			m.spec.LeaderPlacement = upgrade.PlacementEarly
		}
		if rapid.Bool().Draw(t, "adopt") {
			m.status = upgrade.Status{}
		} else {
			m.status = upgrade.Status{CurrentVersion: propFrom, CurrentImage: img(propFrom)}
		}

		actions := map[string]func(*rapid.T){
			"advance":  func(t *rapid.T) { m.advance(t, rapid.IntRange(1, 20).Draw(t, "ticks")) },
			"advance2": func(t *rapid.T) { m.advance(t, rapid.IntRange(1, 20).Draw(t, "ticks")) },
			"advance3": func(t *rapid.T) { m.advance(t, rapid.IntRange(1, 5).Draw(t, "ticks")) },
			"restart":  func(t *rapid.T) { m.restart(t) },
			"crashMidApply": func(t *rapid.T) {
				m.reconcileWith(t, hostCrashMid)
				m.restart(t)
				m.c.Tick()
			},
			"loseStatus": func(t *rapid.T) {
				m.reconcileWith(t, hostLoseStatus)
				m.c.Tick()
			},
			"retarget": func(t *rapid.T) {
				v := rapid.SampledFrom(propTargets).Draw(t, "newTarget")
				m.spec.Version, m.spec.Image = v, img(v)
			},
		}
		if m.faults {
			actions["killPod"] = func(t *rapid.T) { _ = m.c.KillPod(m.member(t)) }
			actions["killLeader"] = func(t *rapid.T) { _ = m.c.KillLeader() }
			actions["isolate"] = func(t *rapid.T) { _ = m.c.Isolate(m.member(t)) }
			actions["heal"] = func(t *rapid.T) { _ = m.c.Heal(m.member(t)) }
			actions["slow"] = func(t *rapid.T) {
				_ = m.c.SlowCatchUp(m.member(t), uint64(rapid.IntRange(0, 50).Draw(t, "rate")))
			}
			actions["stale"] = func(t *rapid.T) {
				m.c.StaleNext(rapid.IntRange(1, 10).Draw(t, "ticksAgo"))
				m.stale = true
			}
			// Observation faults as real adapters show them, at the weight
			// of the pod and leader faults.
			actions["observeFault"] = func(t *rapid.T) {
				kind := rapid.SampledFrom(fake.ObservationFaultKinds()).Draw(t, "observationFault")
				if err := m.c.FaultNextObservation(fake.ObservationFault{Kind: kind, Member: m.member(t),
					TicksAgo: rapid.IntRange(1, 8).Draw(t, "cacheAge")}); err != nil {
					t.Fatal(err)
				}
				if kind == fake.FaultStaleCache {
					m.stale = true
				}
			}
			actions["observeFault2"] = actions["observeFault"]
		}
		m.windowActions(actions)
		t.Repeat(actions)

		// L1: faults stop; the upgrade must reach idle at the target within
		// a bounded number of ticks. A crash-looping target pauses the
		// upgrade; the simulated operator then sets a good version, and
		// that upgrade must finish.
		m.c.HealAll()
		m.stale = false
		m.spec.Paused = false
		bound := 300 + 60*m.n
		rescued := false
		// With windows, the host sleeps until the next opening whenever
		// the upgrade holds for one; each opening admits at least one
		// pod, so the sleeps are bounded too.
		sleeps := 0
		for i := 0; ; i++ {
			if i > bound {
				tr := m.c.Truth()
				t.Logf("workload %+v lock %+v", tr.Workloads, tr.Lock)
				for _, mem := range tr.Members {
					t.Logf("member %s rev %s uid %s ready %v leader %v", mem.Name, mem.Revision, mem.Pod.UID, mem.Pod.Ready, mem.Raft.Leader)
				}
				h := m.c.History()
				for _, r := range h[max(0, len(h)-bound-20) : len(h)-bound+20] {
					t.Log(r.String())
				}
				t.Fatalf("L1: not idle %d ticks after faults stopped: status %+v upgrade %+v %+v", bound, m.status, m.status.Upgrade, m.status.Upgrade.Rolling)
			}
			d := m.reconcile(t)
			switch u := m.status.Upgrade; {
			case u != nil && d.Gate != nil && d.Gate.Name == upgrade.GatePolicy:
				// a refused new target holds the upgrade in flight until the
				// operator fixes the spec: set it back to the upgrade's target
				m.spec.Version, m.spec.Image = u.TargetVersion, u.TargetImage
				reverted++
			case u != nil && d.Gate != nil && d.Gate.Reason == upgrade.ReasonMoveFailsBack:
				// S8 holds the upgrade for a human: partition ordering
				// must restart a leader that only an older voter could
				// replace (a leader on an intermediate target after a
				// retarget). Check that it is
				// genuine and end here: failing back is what S8 forbids.
				obs := m.c.Observe()
				l, ok := obs.Leader()
				if !ok || upgrade.StepDownAllowed(&obs, l) || m.status.Upgrade.Rolling.Ordering != string(OrderingPartition) {
					t.Fatalf("L1: %s hold without cause: %s", d.Gate.Reason, d.Gate.Message)
				}
				return
			case u != nil && u.Paused != nil:
				if u.Paused.Gate != upgrade.GateCrashLoop || m.bad == "" || rescued {
					t.Fatalf("L1: paused without a bad version: %+v", u.Paused)
				}
				paused++
				rescued = true
				i = 0
				m.spec.Version, m.spec.Image = propRescue, img(propRescue)
			}
			if d.Gate != nil && d.Gate.Name == upgrade.GateMaintenanceWindow && len(d.Actions) == 0 && d.RequeueAfter > 0 {
				if sleeps++; sleeps > 2*m.n+4 {
					t.Fatalf("L1: still held for a window after %d openings: %+v", sleeps-1, m.status.Upgrade)
				}
				m.c.Sleep(d.RequeueAfter)
				slept.Add(1)
				continue
			}
			if m.status.Upgrade == nil && len(d.Actions) == 0 {
				if m.status.CurrentVersion == m.spec.Version && m.status.CurrentImage == m.spec.Image && d.Gate == nil {
					break
				}
				// a target the version policy refuses (a downgrade after an
				// earlier upgrade finished) leaves the cluster idle where it
				// is; the operator then sets the spec back to the current
				// version (which also lets an interrupted decision converge)
				if d.Gate != nil && d.Gate.Name == upgrade.GatePolicy {
					refused++
					m.spec.Version, m.spec.Image = m.status.CurrentVersion, m.status.CurrentImage
				}
			}
			m.c.Tick()
		}
		// idle stays idle while killed pods come back
		for range 30 {
			m.c.Tick()
			if d := m.reconcile(t); len(d.Actions) > 0 || m.status.Upgrade != nil {
				t.Fatalf("idle cluster acted: %s", upgrade.FormatActions(d.Actions))
			}
		}
		truth := m.c.Truth()
		for _, mem := range truth.Members {
			if mem.Version != m.status.CurrentVersion {
				h := m.c.History()
				for _, r := range h[max(0, len(h)-40):] {
					t.Log(r.String())
				}
				t.Fatalf("L1: idle at %s but %s runs %s (%+v)", m.status.CurrentVersion, mem.Name, mem.Version, mem)
			}
		}
		if truth.Lock.Holder != "" || truth.Workloads[0].Partition != 0 {
			t.Fatalf("idle with lock %q and partition %d", truth.Lock.Holder, truth.Workloads[0].Partition)
		}

		h := m.history()
		if err := fake.CheckHistory(m.c.History()); err != nil {
			t.Fatalf("history: %v", err)
		}
		if !m.faults {
			// S2 as observed: without faults at most one voter is down at
			// any tick
			for _, r := range h {
				if r.VotersUp < r.Voters-1 {
					t.Fatalf("tick %d: %d of %d voters down without faults", r.Tick, r.Voters-r.VotersUp, r.Voters)
				}
			}
		}
		if !m.faults && m.n >= 3 {
			for _, r := range h {
				if r.VotersUp < upgrade.Quorum(r.Voters) {
					t.Fatalf("tick %d: quorum lost without faults: %d/%d voters up", r.Tick, r.VotersUp, r.Voters)
				}
				if targeted && !r.Writable {
					t.Fatalf("tick %d: not writable without faults (targeted transfer)", r.Tick)
				}
			}
			if mt := fake.Summarize(h); mt.LongestLeaderless > m.c.Config().ElectionTimeout[1]+1 {
				t.Fatalf("leaderless for %d ticks without faults", mt.LongestLeaderless)
			}
		}
	})
	t.Logf("%d checks, %d paused on a bad version and rescued, %d ended on a refused target, %d reverted a refused mid-upgrade target, %d steps generated so far, %d saw a regressed leader (S8)",
		checks, paused, refused, reverted, stepsGenerated.Load(), regressionsSeen.Load())
	t.Logf("%d runs with maintenance windows, %d held Decisions checked, %d sleeps until a window opened", windowRuns, holdsChecked.Load(), slept.Load())
}
