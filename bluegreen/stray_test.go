package bluegreen

import (
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// stepTableCasesStray are the stepTableCases of a green workload left by a
// start whose status was never persisted (found by the soak once
// check.Idle required the serving workload to be the only one left: seed
// 472, a crash after CreateRevision without persisting, then a revert).
func stepTableCasesStray() []stepTableCase {
	now := t0.Add(time.Minute)
	lostStart := cluster(now, 3, "pod", "pod", "pod")
	lostStart.Lock.Holder = DefaultLockHolder
	joined := cluster(now, 3, "nv", "pod", "pod")
	notGreen := cluster(now, 3)
	notGreen.Workloads = append(notGreen.Workloads, upgrade.Workload{Name: "bao-backup", Replicas: 1, Version: fromV, Image: fromImg})
	reverted := func(s *Spec) { s.Version, s.Image = fromV, fromImg }
	idleAt := upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg}
	wantDelete := func(t *testing.T, d upgrade.Decision) {
		t.Helper()
		if a, ok := d.Actions[0].(upgrade.DeleteRevision); !ok || a.Workload != greenW {
			t.Errorf("actions %v, want the delete of %s", d.Actions, greenW)
		}
		if len(d.Events) != 1 || d.Events[0].Reason != string(ReasonStrayGreen) {
			t.Errorf("events %+v", d.Events)
		}
	}
	return []stepTableCase{
		{name: "a green workload left by a lost start is deleted after a revert", spec: reverted, obs: lostStart, status: idleAt,
			wantPhase: PhaseIdle, wantKinds: []string{"DeleteRevision"}, check: wantDelete},
		{name: "a green workload left by a lost start is deleted before another target starts",
			spec: func(s *Spec) { s.Version, s.Image = "2.4.2", "openbao/openbao:2.4.2" }, obs: lostStart, status: idleAt,
			wantPhase: PhaseIdle, wantKinds: []string{"DeleteRevision"}, check: wantDelete},
		{name: "the green workload of the spec's target is taken over, not deleted", obs: lostStart, status: idleAt,
			wantPhase: PhaseJoiningMesh, wantKinds: []string{"JoinNonvoter"}},
		{name: "a stray green workload is not deleted on an unknown raft view", spec: reverted, obs: unknownView(lostStart), status: idleAt,
			wantPhase: PhaseIdle, wantKinds: []string{"ReleaseLock"}},
		{name: "a green workload holding a raft member is not deleted", spec: reverted, obs: joined, status: idleAt,
			wantPhase: PhaseIdle, wantKinds: nil},
		{name: "a workload not named like a green one is not deleted", spec: reverted, obs: notGreen, status: idleAt,
			wantPhase: PhaseIdle, wantKinds: nil},
	}
}

func TestGreenLike(t *testing.T) {
	for name, want := range map[string]bool{
		GreenName("bao", toV, toImg): true, "bao": false, "bao-backup": false, "bao-0123456": false,
		"bao-0123456789": false, "bao-0123456g": false, "bao-ABCDEF01": false, "other-01234567": false,
	} {
		if got := greenLike(name, "bao"); got != want {
			t.Errorf("greenLike(%q) = %t, want %t", name, got, want)
		}
	}
}
