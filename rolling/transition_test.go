package rolling

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/raftshift/raftshift/upgrade"
)

// TestNoIllegalTransition: Step never fails with ErrIllegalTransition,
// whatever the persisted phase and ordinal (any status a Step may have
// produced, with any prefix of its actions executed or not), the
// observation and the spec's requests.
func TestNoIllegalTransition(t *testing.T) {
	var observations []upgrade.Observation
	for upgradedPods := 0; upgradedPods <= 3; upgradedPods++ {
		for leader := -1; leader < 3; leader++ {
			for partition := int32(0); partition <= 3; partition++ {
				o := locked(templated(3))
				o.Now = t0.Add(time.Hour)
				o.Workloads[0].Partition = partition
				for i := 3 - upgradedPods; i < 3; i++ {
					upgraded(&o, i)
				}
				if leader >= 0 {
					setLeader(&o, leader)
				} else {
					o.Raft.LeaderID = ""
					o.Members[0].Raft.Leader = false
				}
				notReady := *o.DeepCopy()
				notReady.Members[1].Pod.Ready = false
				gone := *o.DeepCopy()
				gone.Members[2].Pod = upgrade.PodStatus{}
				unknown := *o.DeepCopy()
				unknownRaft(&unknown)
				observations = append(observations, o, notReady, gone, unknown)
			}
		}
	}
	specs := map[string]func(*Spec){
		"plain":    func(*Spec) {},
		"revert":   func(s *Spec) { s.Version, s.Image = oldV, oldImg },
		"retarget": func(s *Spec) { s.Version, s.Image = "2.4.1", "openbao/openbao:2.4.1" },
		"retry":    func(s *Spec) { s.RetryNonce = "again" },
		"typo":     func(s *Spec) { s.Version = "2.4" },
	}
	runs := 0
	for _, phase := range []Phase{PhaseLocking, PhaseSnapshotting, PhaseTemplating, PhaseRolling, PhaseMovingLeader,
		PhaseRestarting, PhaseVerifying} {
		for ord := int32(-1); ord < 3; ord++ {
			st := inflight(3, phase, ord)
			for name, mod := range specs {
				spec := baseSpec()
				mod(&spec)
				for i, o := range observations {
					runs++
					if _, err := Step(spec, o, st); errors.Is(err, upgrade.ErrIllegalTransition) {
						t.Fatalf("phase %s, ordinal %d, spec %s, observation %d: %v", phase, ord, name, i, err)
					}
				}
			}
		}
	}
	t.Logf("%d Steps, none illegal", runs)
}

// TestTemplateDrift: past templating, a template that is not at the target
// (changed by someone, or seen applied through a stale cache) restarts the
// plan from Locking, which raises the partition first.
func TestTemplateDrift(t *testing.T) {
	o := locked(templated(3))
	o.Workloads[0].Partition = 2
	o.Workloads[0].Version, o.Workloads[0].Image, o.Workloads[0].UpdateRevision = "2.4.1", "openbao/openbao:2.4.1", "bao-other"
	for _, phase := range []Phase{PhaseRolling, PhaseMovingLeader, PhaseRestarting, PhaseVerifying} {
		d, err := Step(baseSpec(), o, inflight(3, phase, 2))
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		if d.Status.Upgrade.Phase != string(PhaseLocking) || len(d.Actions) == 0 {
			t.Fatalf("%s: phase %s actions %v", phase, d.Status.Upgrade.Phase, d.Actions)
		}
		raised := false
		for _, a := range d.Actions {
			if sp, ok := a.(upgrade.SetPartition); ok {
				raised = sp.Partition == 3
				break
			}
		}
		if !raised {
			t.Fatalf("%s: actions %v, want the partition raised first", phase, d.Actions)
		}
	}
}

// TestUnexpectedPromotion: a member that was a non-voter when the upgrade
// started and votes later was promoted behind the upgrade's back (issue 16):
// an event once and the Degraded condition; it counts as a voter.
func TestUnexpectedPromotion(t *testing.T) {
	o := healthy(4)
	o.Members[3].Raft.Suffrage = upgrade.Nonvoter
	d, err := Step(baseSpec(), o, idleStatus())
	if err != nil || d.Status.Upgrade == nil {
		t.Fatalf("start: %v %+v", err, d.Gate)
	}
	if got := d.Status.Upgrade.Rolling.Nonvoters; len(got) != 1 || got[0] != "bao-3" {
		t.Fatalf("non-voters at start %v", got)
	}
	st := d.Status
	st.LastStepTime = upgrade.Time(t0.Add(-time.Minute))
	later := locked(healthy(4))
	later.Now = t0.Add(time.Minute)
	later.Workloads[0].Partition = 4
	d, err = Step(baseSpec(), later, st)
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Status.Upgrade.Rolling.UnexpectedVoters; len(v) != 1 || v[0] != "bao-3" {
		t.Fatalf("unexpected voters %v", v)
	}
	n := 0
	for _, e := range d.Events {
		if e.Reason == string(upgrade.ReasonUnexpectedPromotion) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d events", n)
	}
	if c := meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionDegraded); c == nil || c.Reason != string(upgrade.ReasonUnexpectedPromotion) {
		t.Fatalf("Degraded %+v", c)
	}
	later.Now = later.Now.Add(time.Minute)
	d2, _ := Step(baseSpec(), later, d.Status)
	for _, e := range d2.Events {
		if e.Reason == string(upgrade.ReasonUnexpectedPromotion) {
			t.Fatal("event repeated")
		}
	}
}
