package contract

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	obs := &upgrade.Observation{Now: now}
	for _, tc := range []struct {
		v, i string
		o    *upgrade.Observation
		want error
	}{
		{"2.4.0", "img", obs, nil},
		{"", "img", obs, upgrade.ErrInvalidSpec},
		{"2.4.0", "", obs, upgrade.ErrInvalidSpec},
		{"2.4.0", "img", &upgrade.Observation{}, upgrade.ErrInvalidObservation},
	} {
		if err := Validate(tc.v, tc.i, tc.o); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Validate(%q, %q) = %v, want %v", tc.v, tc.i, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	st := &upgrade.Status{LastResult: &upgrade.Result{Outcome: upgrade.OutcomeRolledBack, TargetVersion: "2.4.0"}}
	if g := RetryRequired(st, "v2.4.0"); g == nil || g.Reason != upgrade.ReasonRetryRequired {
		t.Fatalf("failed target not held: %v", g)
	}
	if RetryRequired(st, "2.5.0") != nil {
		t.Fatal("another target held")
	}
	if HandleRetry("", st, now) || !HandleRetry("r1", st, now) || HandleRetry("r1", st, now) {
		t.Fatal("a retry nonce must be handled once")
	}
	if RetryRequired(st, "2.4.0") != nil {
		t.Fatal("retry did not release the failed target")
	}
	st.Upgrade = &upgrade.UpgradeStatus{Paused: &upgrade.Pause{}, Failures: 3}
	HandleRetry("r2", st, now)
	if st.Upgrade.Paused != nil || st.Upgrade.Failures != 0 || !st.Upgrade.StepStartedAt.Time.Equal(now) {
		t.Fatalf("retry did not clear the pause: %+v", st.Upgrade)
	}
}

func TestSetConditions(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		st                      upgrade.Status
		v                       View
		ready, progress, degrad string
	}{
		{"idle up to date", upgrade.Status{CurrentVersion: "2.3.0"}, View{}, "UpToDate", "Idle", "AsExpected"},
		{"idle adopted", upgrade.Status{CurrentVersion: "2.3.0"}, View{Adopted: true}, "AdoptedRunningVersion", "Idle", "AsExpected"},
		{"refused", upgrade.Status{}, View{Gate: &upgrade.Gate{Reason: "Downgrade"}}, "Downgrade", "Downgrade", "AsExpected"},
		{"ended", upgrade.Status{}, View{Ended: &upgrade.Result{Outcome: upgrade.OutcomeSucceeded, Reason: "UpgradeSucceeded"}},
			"UpgradeSucceeded", "UpgradeSucceeded", "AsExpected"},
		{"idle after a rollback", upgrade.Status{LastResult: &upgrade.Result{Outcome: upgrade.OutcomeRolledBack, Reason: "UpgradeRolledBack"}},
			View{}, "UpToDate", "Idle", "UpgradeRolledBack"},
		{"running", upgrade.Status{Upgrade: &upgrade.UpgradeStatus{Phase: "Rolling"}}, View{}, "Upgrading", "Rolling", "AsExpected"},
		{"held", upgrade.Status{Upgrade: &upgrade.UpgradeStatus{Phase: "Rolling"}}, View{Gate: &upgrade.Gate{Reason: "LogLag"}},
			"Upgrading", "LogLag", "AsExpected"},
		{"paused", upgrade.Status{Upgrade: &upgrade.UpgradeStatus{Phase: "Rolling", Paused: &upgrade.Pause{Reason: "PodCrashLooping"}}},
			View{}, "Upgrading", "PodCrashLooping", "PodCrashLooping"},
		{"break-glass", upgrade.Status{Upgrade: &upgrade.UpgradeStatus{Phase: "BreakGlass"}, BreakGlass: &upgrade.BreakGlass{Reason: "X"}},
			View{}, "Upgrading", "BreakGlass", "X"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			SetConditions(&st, tc.v, now, 4)
			for typ, want := range map[string]string{upgrade.ConditionReady: tc.ready, upgrade.ConditionProgressing: tc.progress,
				upgrade.ConditionDegraded: tc.degrad} {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil || c.Reason != want || c.ObservedGeneration != 4 {
					t.Errorf("%s = %+v, want reason %s", typ, c, want)
				}
			}
			if len(st.Conditions) != 4 {
				t.Errorf("%d conditions", len(st.Conditions))
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	if g, err := Refusal(nil); g != nil || err != nil {
		t.Fatalf("nil: %v %v", g, err)
	}
	v := &policy.Violation{Gate: upgrade.GatePolicy, Reason: policy.ReasonDowngrade, Message: "no"}
	if g, err := Refusal(fmt.Errorf("wrapped: %w", v)); err != nil || g == nil || g.Reason != policy.ReasonDowngrade {
		t.Fatalf("violation: %v %v", g, err)
	}
	if g, err := Refusal(errors.New("boom")); g != nil || !errors.Is(err, upgrade.ErrInvalidSpec) {
		t.Fatalf("other error: %v %v", g, err)
	}
}

func TestLeaderMove(t *testing.T) {
	m := func(name string, leader bool) upgrade.Member {
		return upgrade.Member{Name: name, Workload: "w", Version: "2.4.0",
			Pod:  upgrade.PodStatus{Exists: true, Ready: true, Running: true},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Healthy: true, Leader: leader, LastIndex: 10, LastTerm: 2, StableSince: now.Add(-time.Hour)}}
	}
	obs := upgrade.Observation{Now: now, Members: []upgrade.Member{m("a", true), m("b", false), m("c", false)},
		Raft: upgrade.RaftView{Known: true, LeaderID: "a", Term: 2}}
	obs.Capabilities.TargetedTransfer = true
	a, target, ok := LeaderMove(&obs, upgrade.Safety{}, obs.Members[0], "2.4.0", nil)
	if !ok || a.Kind() != upgrade.KindTransferLeadership || target.Name == "a" {
		t.Fatalf("targeted: %v %s %v", a, target.Name, ok)
	}
	obs.Capabilities.TargetedTransfer = false
	if a, _, ok := LeaderMove(&obs, upgrade.Safety{}, obs.Members[0], "2.4.0", nil); !ok || a.Kind() != upgrade.KindStepDown {
		t.Fatalf("step-down: %v %v", a, ok)
	}
	none := func(upgrade.Member) bool { return true }
	if a, _, ok := LeaderMove(&obs, upgrade.Safety{}, obs.Members[0], "2.4.0", none); ok || a != nil {
		t.Fatalf("no target: %v %v", a, ok)
	}
}
