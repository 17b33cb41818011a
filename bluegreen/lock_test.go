package bluegreen

import (
	"slices"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// A host that crashed after persisting the final status but before executing
// its ReleaseLock must not leave the operation lock held forever.
func TestIdleReleasesLeftoverOwnLock(t *testing.T) {
	spec := baseSpec()
	spec.Version, spec.Image = fromV, fromImg // no drift: idle
	st := upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg}
	for _, tc := range []struct {
		holder string
		want   []string
	}{
		{DefaultLockHolder, []string{string(upgrade.KindReleaseLock)}},
		{"backup-operator", nil},
		{"", nil},
	} {
		obs := cluster(t0, 3)
		obs.Lock.Holder = tc.holder
		d, err := Step(spec, obs, st)
		if err != nil {
			t.Fatalf("holder %q: %v", tc.holder, err)
		}
		if got := kinds(d.Actions); !slices.Equal(got, tc.want) {
			t.Errorf("holder %q: actions %v, want %v", tc.holder, got, tc.want)
		}
		if d.Status.Upgrade != nil {
			t.Errorf("holder %q: an upgrade started", tc.holder)
		}
	}
}

// Joining uses the address the adapter observed when there is one.
func TestJoinUsesObservedAddress(t *testing.T) {
	m := member(greenW, 0, toV, "")
	r := &run{spec: baseSpec().withDefaults()}
	m.Raft.Address = "10.0.0.7:8201"
	if got := r.address(m); got != "10.0.0.7:8201" {
		t.Fatalf("address = %q", got)
	}
	m.Raft.Address = ""
	if got := r.address(m); got != greenW+"-0."+greenW+":8201" {
		t.Fatalf("derived address = %q", got)
	}
}
