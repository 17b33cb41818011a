package rolling

import (
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// TestVersionSpelling is issue 9, bug 4: an upgrade to "v2.4.0" stored
// currentVersion "v2.4.0"; setting the spec to "2.4.0" then restarted every
// pod. Versions are compared as semver and stored in one canonical form.
func TestVersionSpelling(t *testing.T) {
	// The cluster runs 2.4.0 everywhere; the status was written with a "v".
	done := func() upgrade.Observation {
		o := templated(3)
		o.Workloads[0].Partition = 0
		for i := range 3 {
			upgraded(&o, i)
		}
		o.Workloads[0].CurrentRevision = newRev
		return o
	}()
	for _, tt := range []struct{ status, spec string }{
		{"v2.4.0", "2.4.0"}, {"2.4.0", "v2.4.0"}, {"v2.4.0", "v2.4.0"},
	} {
		st := upgrade.Status{CurrentVersion: tt.status, CurrentImage: newImg}
		d, err := Step(Spec{Version: tt.spec, Image: newImg}, done, st)
		if err != nil || len(d.Actions) != 0 || d.Status.Upgrade != nil || d.Gate != nil {
			t.Fatalf("status %q, spec %q: a change of spelling acted: %v %v %+v", tt.status, tt.spec, err, d.Actions, d.Gate)
		}
	}

	// A new upgrade stores the canonical spelling.
	d, err := Step(Spec{Version: "v2.4.0", Image: newImg}, healthy(3), idleStatus())
	if err != nil || d.Status.Upgrade == nil {
		t.Fatalf("upgrade did not start: %v %+v", err, d.Gate)
	}
	if got := d.Status.Upgrade.TargetVersion; got != "2.4.0" {
		t.Errorf("target stored as %q, want 2.4.0", got)
	}

	// An upgrade in flight to "v2.4.0" is not retargeted by "2.4.0".
	st := inflight(3, PhaseRolling, 2)
	st.Upgrade.TargetVersion = "v2.4.0"
	d, err = Step(Spec{Version: "2.4.0", Image: newImg}, locked(templated(3)), st)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Upgrade == nil || d.Status.Upgrade.Phase == string(PhaseLocking) {
		t.Fatalf("respelling the target restarted the plan: %+v", d.Status.Upgrade)
	}

	// Adoption stores the canonical spelling of what the template declares.
	o := healthy(3)
	o.Workloads[0].Version = "v2.3.0"
	for i := range o.Members {
		o.Members[i].Version = "2.3.0"
	}
	d, err = Step(Spec{Version: "2.3.0", Image: oldImg}, o, upgrade.Status{})
	if err != nil || d.Status.CurrentVersion != "2.3.0" || len(d.Actions) != 0 {
		t.Fatalf("adopted %q (err %v, actions %v)", d.Status.CurrentVersion, err, d.Actions)
	}
}
