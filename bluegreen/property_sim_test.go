package bluegreen

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"encoding/json"
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// sim drives Step against a fake cluster like a host, recording what the
// invariants need.
type sim struct {
	t        *rapid.T
	c        *fake.Cluster
	spec     Spec
	status   upgrade.Status
	blueVer  string
	stale    bool
	disrupt  bool // a fault that can take voters down happened
	steps    int
	nonce    int
	ackSeen  bool
	refusals int
	results  []upgrade.Result
	noKill   bool // no fault that can take voters down is injected
	truncate int  // >= 0: the next decision is executed only up to this many actions
	// lastHold and lastRequeue are the hold gate (pause or window) and
	// RequeueAfter of the last Decision that held without acting.
	lastHold    *upgrade.Gate
	lastRequeue time.Duration
}

func (s *sim) nextNonce(prefix string) string {
	s.nonce++
	return fmt.Sprintf("%s-%d", prefix, s.nonce)
}

// reconcile runs one host iteration: observe, Step, check invariants,
// apply. It does not tick.
func (s *sim) reconcile() {
	t := s.t
	obs := s.c.Observe()
	fresh := !s.stale
	s.stale = false
	truth := s.c.Truth()
	prev := s.status
	d, err := Step(s.spec, obs, *prev.DeepCopy())
	s.steps++
	if err != nil {
		t.Fatalf("tick %d: Step: %v", s.c.TickCount(), err)
	}
	// Rule 2: a host that restarted (status through JSON) decides the same.
	if d2, err := Step(s.spec, obs, roundTrip(s.t, prev)); err != nil ||
		upgrade.FormatActions(d2.Actions) != upgrade.FormatActions(d.Actions) || phaseOf(d2.Status) != phaseOf(d.Status) {
		t.Fatalf("tick %d: decision differs after a status round trip: %v\n%s\nvs\n%s", s.c.TickCount(), err,
			upgrade.FormatActions(d.Actions), upgrade.FormatActions(d2.Actions))
	}
	// A Step that only waits (no actions, nothing to report) is a fixed
	// point: on the same observation it
	// returns its own status byte for byte.
	if len(d.Actions) == 0 && len(d.Events) == 0 && d.Gate != nil {
		d3, err := Step(s.spec, obs, d.Status)
		a, _ := json.Marshal(d.Status)
		b, _ := json.Marshal(d3.Status)
		if err != nil || len(d3.Actions) != 0 || string(a) != string(b) {
			t.Fatalf("tick %d: a waiting Step is not a fixed point: %v\n%s\n%s", s.c.TickCount(), err, a, b)
		}
	}
	// Safety against what Step saw, and against the truth when fresh.
	if err := (upgrade.Safety{}).Check(obs, d.Actions); err != nil {
		t.Fatalf("tick %d: unsafe against the observation: %v\n%s", s.c.TickCount(), err, upgrade.FormatActions(d.Actions))
	}
	if fresh {
		if err := (upgrade.Safety{}).Check(truth, d.Actions); err != nil {
			t.Fatalf("tick %d: unsafe against the truth: %v", s.c.TickCount(), err)
		}
	}
	// S7: no disruptive action while break-glass is engaged and not acknowledged.
	if (prev.BreakGlass != nil && s.spec.BreakGlassAck != prev.BreakGlass.Nonce) || d.Status.BreakGlass != nil {
		for _, a := range d.Actions {
			if upgrade.IsDisruptive(a) {
				t.Fatalf("tick %d: S7: disruptive %s during break-glass", s.c.TickCount(), a)
			}
		}
	}
	if d.Status.BreakGlass != nil && prev.BreakGlass == nil {
		propBreakGlass.Add(1)
	}
	// S7: break-glass is cleared only by its exact nonce.
	if prev.BreakGlass != nil && d.Status.BreakGlass == nil && s.spec.BreakGlassAck != prev.BreakGlass.Nonce {
		t.Fatalf("tick %d: S7: break-glass %s cleared by acknowledgement %q", s.c.TickCount(), prev.BreakGlass.Nonce, s.spec.BreakGlassAck)
	}
	if err := check.Failback(prev, d, obs); err != nil { // S8
		t.Fatalf("tick %d: %v\n%s", s.c.TickCount(), err, upgrade.FormatActions(d.Actions))
	}
	// Issue 13: what only goldens used to catch, as properties (the
	// blue-green rules of S4 in package check).
	if u := d.Status.Upgrade; u != nil {
		if err := check.BlueGreen(obs, d.Actions, string(phaseOf(prev)), u.Phase, u.BlueGreen.Blue, u.BlueGreen.Green); err != nil {
			t.Fatalf("tick %d: %v\n%s", s.c.TickCount(), err, upgrade.FormatActions(d.Actions))
		}
	}
	// S5: the current version changes only together with completing an upgrade.
	if d.Status.CurrentVersion != prev.CurrentVersion && prev.CurrentVersion != "" {
		if prev.Upgrade == nil || d.Status.Upgrade != nil || d.Status.LastResult == nil ||
			d.Status.LastResult.Outcome != upgrade.OutcomeSucceeded || d.Status.CurrentVersion != prev.Upgrade.TargetVersion ||
			d.Status.CurrentImage != prev.Upgrade.TargetImage {
			t.Fatalf("tick %d: S5: current version %s -> %s without completing an upgrade", s.c.TickCount(),
				prev.CurrentVersion, d.Status.CurrentVersion)
		}
	}
	if prev.Upgrade != nil && d.Status.Upgrade == nil {
		s.results = append(s.results, *d.Status.LastResult)
		switch d.Status.LastResult.Outcome {
		case upgrade.OutcomeSucceeded:
			propOutcomes[0].Add(1)
		case upgrade.OutcomeRolledBack:
			propOutcomes[1].Add(1)
			if d.Status.CurrentVersion != prev.CurrentVersion {
				t.Fatalf("rolled back but current version changed")
			}
		case upgrade.OutcomeAborted:
			propOutcomes[2].Add(1)
		}
	}
	// S6: a refused start emits nothing.
	if prev.Upgrade == nil && d.Status.Upgrade == nil && d.Gate != nil {
		s.refusals++
		if len(kinds(d.Actions)) > 0 {
			t.Fatalf("tick %d: actions despite refusal %+v: %v", s.c.TickCount(), d.Gate, d.Actions)
		}
	}
	// Issue 16: a green member voting before the strategy promoted it is
	// never silent, and leadership never reaches green before validation
	// and (manual) promotion.
	if u := d.Status.Upgrade; u != nil {
		switch Phase(u.Phase) {
		case PhaseDeployingGreen, PhaseJoiningMesh, PhaseSyncing, PhaseValidating, PhaseAwaitingPromotion:
			for _, m := range obs.Members {
				if m.Workload == u.BlueGreen.Green && m.IsVoter() && !u.BlueGreen.UnexpectedPromotion {
					t.Fatalf("tick %d: green %s votes in %s, not reported", s.c.TickCount(), m.Name, u.Phase)
				}
			}
			if u.BlueGreen.UnexpectedPromotion && findCond(d.Status, upgrade.ConditionDegraded).Status != "True" {
				t.Fatalf("tick %d: unexpected promotion without a Degraded condition", s.c.TickCount())
			}
			for _, a := range d.Actions {
				if tr, ok := a.(upgrade.TransferLeadership); ok {
					t.Fatalf("tick %d: leadership moved to %s in %s", s.c.TickCount(), tr.To, u.Phase)
				}
			}
		}
	}
	s.checkHold(&obs, &prev, &d)
	s.lastHold, s.lastRequeue = nil, 0
	if d.Gate != nil && (d.Gate.Name == upgrade.GateMaintenanceWindow || d.Gate.Name == upgrade.GatePaused) && len(d.Actions) == 0 {
		s.lastHold, s.lastRequeue = d.Gate, d.RequeueAfter
	}
	// Status must survive its JSON round trip unchanged in meaning.
	s.status = d.Status
	phasesSeen[phaseOf(d.Status)]++
	acts := d.Actions
	if s.truncate >= 0 {
		// The executor fails part-way: only a prefix is carried out.
		acts = acts[:min(s.truncate, len(acts))]
		s.truncate = -1
	}
	applied, aerr := s.c.Apply(acts)
	if aerr != nil {
		propApplyErrors.Add(1)
	}
	if d.Gate != nil && d.Gate.Name == upgrade.GateStaleObservation {
		propStaleRefused.Add(1)
	}
	// The service is only ever switched to the workload holding the leader:
	// in the true cluster when Step saw it fresh (a stale observation can
	// predate a fault that killed the leader; against the observation itself
	// Safety.Check already enforced the rule above).
	for _, a := range acts[:applied] {
		if sw, ok := a.(upgrade.SwitchService); ok && fresh {
			after := s.c.Truth()
			if l, ok := after.Leader(); !ok || l.Workload != sw.Workload {
				t.Fatalf("tick %d: service switched to %s without its leader", s.c.TickCount(), sw.Workload)
			}
		}
	}
}

func (s *sim) restart() {
	s.status = roundTrip(s.t, s.status)
	propRestarts.Add(1)
}

// roundTrip persists a status through JSON, as a CRD status would be.
func roundTrip(t interface{ Fatal(...any) }, st upgrade.Status) upgrade.Status {
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out upgrade.Status
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *sim) tick() {
	s.c.Tick()
	propTicks.Add(1)
}

// drive reconciles and ticks until the status is idle, answering
// break-glass and manual promotion like an operator would. It returns
// false when bound ticks pass first.
func (s *sim) drive(bound int) bool {
	for i := range bound {
		if i > 0 && int64(i) > propMaxL1.Load() {
			propMaxL1.Store(int64(i))
		}
		if b := s.status.BreakGlass; b != nil && s.spec.BreakGlassAck != b.Nonce {
			s.spec.BreakGlassAck = b.Nonce
			s.ackSeen = true
			propAck.Add(1)
		}
		if u := s.status.Upgrade; u != nil && Phase(u.Phase) == PhaseAwaitingPromotion && s.spec.PromoteNonce == s.status.Handled.Promotion {
			s.spec.PromoteNonce = s.nextNonce("promote")
		}
		s.reconcile()
		if s.status.Upgrade == nil {
			return true
		}
		if s.sleepIfHeld() {
			// held for a window: the host sleeps until it opens (the
			// cluster is at the safe point; each opening admits the
			// promotion, so the sleeps are bounded by the bound too)
			continue
		}
		s.tick()
	}
	return false
}

func (s *sim) checkHistory() {
	h := s.c.History()
	if err := fake.CheckHistory(h); err != nil {
		s.t.Fatalf("history: %v", err)
	}
	if s.disrupt {
		return
	}
	quorumChecked.Add(1)
	if m := fake.Summarize(h); s.c.Config().TargetedTransfer && m.TicksNotWritable > 0 {
		// With targeted transfer no election outage is ever needed.
		s.t.Fatalf("%d ticks not writable with targeted transfer and no disruptive fault", m.TicksNotWritable)
	}
	prevSvc := ""
	for _, r := range h {
		if r.VotersUp < upgrade.Quorum(r.Voters) {
			s.t.Fatalf("tick %d: quorum lost without a disruptive fault: %d/%d voters up", r.Tick, r.VotersUp, r.Voters)
		}
		if r.VotersUp != r.Voters {
			// Blue-green never restarts a pod: without faults every voter serves (S2).
			s.t.Fatalf("tick %d: %d of %d voters down without a disruptive fault", r.Tick, r.Voters-r.VotersUp, r.Voters)
		}
		if !r.Writable && r.Leader != "" {
			s.t.Fatalf("tick %d: leader %s cannot write without a disruptive fault", r.Tick, r.Leader)
		}
		if r.ServiceWorkload != prevSvc && prevSvc != "" && !r.ServiceHasLeader && r.Leader != "" {
			s.t.Fatalf("tick %d: service switched to %s, leader %s is elsewhere", r.Tick, r.ServiceWorkload, r.Leader)
		}
		prevSvc = r.ServiceWorkload
	}
}

func testSpec() Spec {
	s := baseSpec()
	s.Timeouts = Timeouts{Step: metav1.Duration{Duration: 3 * time.Minute}, Sync: metav1.Duration{Duration: 3 * time.Minute}, Hook: metav1.Duration{Duration: time.Minute}, Rollback: metav1.Duration{Duration: 3 * time.Minute}}
	return s
}
