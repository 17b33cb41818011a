package bluegreen

import (
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// TestVersionSpelling is issue 9, bug 4 for blue-green: a change of
// spelling alone never builds a green workload, and versions are stored
// canonically.
func TestVersionSpelling(t *testing.T) {
	now := t0
	for _, tt := range []struct{ status, spec string }{
		{"v2.3.0", "2.3.0"}, {"2.3.0", "v2.3.0"},
	} {
		spec := baseSpec()
		spec.Version = tt.spec
		spec.Image = fromImg
		st := upgrade.Status{CurrentVersion: tt.status, CurrentImage: fromImg}
		d, err := Step(spec, cluster(now, 3), st)
		if err != nil || d.Status.Upgrade != nil || len(kinds(d.Actions)) != 0 {
			t.Fatalf("status %q, spec %q: a change of spelling acted: %v %v", tt.status, tt.spec, err, d.Actions)
		}
	}
	spec := baseSpec()
	spec.Version = "v2.4.0"
	d, err := Step(spec, cluster(now, 3), upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg})
	if err != nil || d.Status.Upgrade == nil {
		t.Fatalf("upgrade did not start: %v %+v", err, d.Gate)
	}
	if got := d.Status.Upgrade.TargetVersion; got != "2.4.0" {
		t.Errorf("target stored as %q, want 2.4.0", got)
	}
	if got := d.Status.Upgrade.BlueGreen.Green; got != greenW {
		t.Errorf("green named %q for v2.4.0, want %q (the name of 2.4.0)", got, greenW)
	}
	// An upgrade in flight to "v2.4.0" is not rolled back by "2.4.0".
	st := inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.Upgrade.TargetVersion = "v2.4.0" })
	d, err = Step(baseSpec(), cluster(now, 3, "nv", "nv", "nv"), st)
	if err != nil || d.Status.Upgrade == nil || d.Status.Upgrade.BlueGreen.RollingBack {
		t.Fatalf("respelling the target rolled back: %v %+v", err, d.Status.Upgrade)
	}
}

// TestNoSuccessWithAGreenMemberDown is issue 9, bug 5: a 2-member green
// workload lost its leader pod one tick before cleanup finished; the next
// Step released the lock and recorded Succeeded with no leader.
func TestNoSuccessWithAGreenMemberDown(t *testing.T) {
	now := t0.Add(time.Hour)
	done := func() upgrade.Observation {
		o := cluster(now, 0, "v", "v")
		o.Workloads = o.Workloads[len(o.Workloads)-1:] // blue deleted
		o.Service.Workload = greenW
		setLeader(&o, greenW+"-0")
		o.Lock.Holder = DefaultLockHolder
		return o
	}
	st := inFlight(PhaseCleanup, t0, func(s *upgrade.Status) {
		s.Upgrade.BlueGreen.GreenReplicas = 2
		s.Upgrade.BlueGreen.PointOfNoReturn = true
	})
	d, err := Step(baseSpec(), done(), st)
	if err != nil || d.Status.Upgrade != nil || d.Status.LastResult == nil || d.Status.LastResult.Outcome != upgrade.OutcomeSucceeded {
		t.Fatalf("healthy green did not complete: %v %+v", err, d.Gate)
	}
	for name, mod := range map[string]func(*upgrade.Observation){
		"leader pod gone": func(o *upgrade.Observation) {
			o.Members[0].Pod = upgrade.PodStatus{}
			o.Members[0].Raft.Healthy, o.Members[0].Raft.Leader = false, false
			o.Raft.LeaderID = ""
		},
		"follower not ready":  func(o *upgrade.Observation) { o.Members[1].Pod.Ready = false },
		"follower lagging":    func(o *upgrade.Observation) { o.Members[1].Raft.LastIndex = 1 },
		"follower unknown":    func(o *upgrade.Observation) { o.Members[1].Raft.Unknown = true },
		"follower missing":    func(o *upgrade.Observation) { o.Members = o.Members[:1] },
		"follower on old one": func(o *upgrade.Observation) { o.Members[1].Version = fromV },
	} {
		o := done()
		mod(&o)
		d, err := Step(baseSpec(), o, st)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Status.Upgrade == nil || d.Status.LastResult != nil || len(kinds(d.Actions)) != 0 || d.Gate == nil {
			t.Errorf("%s: completed anyway: actions %v, result %+v", name, d.Actions, d.Status.LastResult)
		}
	}
}
