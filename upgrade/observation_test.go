package upgrade_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

func names(ms []upgrade.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestObservationLookups(t *testing.T) {
	obs := cluster(3, 2)
	if m, ok := obs.Member("raft-1"); !ok || m.Name != "raft-1" {
		t.Errorf("Member(raft-1) = %v, %v", m.Name, ok)
	}
	if _, ok := obs.Member("nobody"); ok {
		t.Error("Member(nobody) found")
	}
	if w, ok := obs.Workload("green"); !ok || w.Replicas != 2 {
		t.Errorf("Workload(green) = %+v, %v", w, ok)
	}
	if _, ok := obs.Workload("nope"); ok {
		t.Error("Workload(nope) found")
	}
	if got := names(obs.Voters()); !slices.Equal(got, []string{"raft-0", "raft-1", "raft-2"}) {
		t.Errorf("Voters() = %v", got)
	}
	// WorkloadMembers sorts by ordinal whatever the observation order.
	slices.Reverse(obs.Members)
	if got := names(obs.WorkloadMembers("raft")); !slices.Equal(got, []string{"raft-0", "raft-1", "raft-2"}) {
		t.Errorf("WorkloadMembers(raft) = %v", got)
	}
	if got := obs.WorkloadMembers("nope"); len(got) != 0 {
		t.Errorf("WorkloadMembers(nope) = %v", got)
	}
}

func TestObservationLeader(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*upgrade.Observation)
		want string // "" when none
	}{
		{"by leader id", nil, "raft-0"},
		{"leader id wins over flags", func(o *upgrade.Observation) {
			o.Raft.LeaderID = "id-raft-2"
		}, "raft-2"},
		{"unknown leader id", func(o *upgrade.Observation) { o.Raft.LeaderID = "gone" }, ""},
		{"single flag without id", func(o *upgrade.Observation) { o.Raft.LeaderID = "" }, "raft-0"},
		{"two flags without id", func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-1").Raft.Leader = true
		}, ""},
		{"no flag without id", func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-0").Raft.Leader = false
		}, ""},
	}
	for _, tt := range tests {
		obs := cluster(3, 0)
		if tt.mod != nil {
			tt.mod(&obs)
		}
		l, ok := obs.Leader()
		if (tt.want == "") == ok || l.Name != tt.want {
			t.Errorf("%s: Leader() = %q, %v; want %q", tt.name, l.Name, ok, tt.want)
		}
		for _, m := range obs.Members {
			if got := obs.IsLeader(m.Name); got != (m.Name == tt.want) {
				t.Errorf("%s: IsLeader(%s) = %v", tt.name, m.Name, got)
			}
		}
	}
}

func TestMemberPredicates(t *testing.T) {
	base := cluster(1, 1)
	v, nv := base.Members[1], base.Members[0]
	if !v.IsVoter() || v.IsNonvoter() || nv.IsVoter() || !nv.IsNonvoter() {
		t.Fatalf("suffrage predicates wrong: %+v %+v", v.Raft, nv.Raft)
	}
	gone := v
	gone.Raft.Present = false
	if gone.IsVoter() || gone.IsNonvoter() {
		t.Error("a member outside the configuration has suffrage")
	}
	if !v.Up() {
		t.Fatal("healthy member not Up")
	}
	for name, f := range map[string]func(*upgrade.Member){
		"missing":        func(m *upgrade.Member) { m.Pod.Exists = false },
		"not ready":      func(m *upgrade.Member) { m.Pod.Ready = false },
		"terminating":    func(m *upgrade.Member) { m.Pod.Terminating = true },
		"crash-looping":  func(m *upgrade.Member) { m.Pod.CrashLooping = true },
		"raft unhealthy": func(m *upgrade.Member) { m.Raft.Healthy = false },
	} {
		m := v
		f(&m)
		if m.Up() {
			t.Errorf("%s member is Up", name)
		}
	}
}

func TestObservationHook(t *testing.T) {
	obs := upgrade.Observation{Hooks: []upgrade.HookStatus{
		{Hook: "smoke", Phase: "Verifying", Attempt: 1, Done: true},
		{Hook: "smoke", Phase: "Verifying", Attempt: 2, Done: true, Succeeded: true},
	}}
	if h, ok := obs.Hook("smoke", "Verifying", 2); !ok || !h.Succeeded {
		t.Errorf("Hook(attempt 2) = %+v, %v", h, ok)
	}
	for _, q := range []struct {
		hook, phase string
		attempt     int32
	}{{"smoke", "Verifying", 3}, {"smoke", "Other", 1}, {"other", "Verifying", 1}} {
		if _, ok := obs.Hook(q.hook, q.phase, q.attempt); ok {
			t.Errorf("Hook(%v) found", q)
		}
	}
}

func TestWorkloadSettled(t *testing.T) {
	for _, tt := range []struct {
		gen, observed int64
		want          bool
	}{{1, 1, true}, {2, 1, false}, {1, 2, true}, {0, 0, true}} {
		if got := (upgrade.Workload{Generation: tt.gen, ObservedGeneration: tt.observed}).Settled(); got != tt.want {
			t.Errorf("Settled(gen %d, observed %d) = %v", tt.gen, tt.observed, got)
		}
	}
}

func TestSetConditionUsesNow(t *testing.T) {
	var conds []metav1.Condition
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("X", 7200))
	upgrade.SetCondition(&conds, upgrade.ConditionProgressing, metav1.ConditionTrue, "Rolling", "m1", t0, 7)
	if len(conds) != 1 || conds[0].Reason != "Rolling" || !conds[0].LastTransitionTime.Time.Equal(t0.Truncate(time.Second)) ||
		conds[0].LastTransitionTime.Location() != time.UTC || conds[0].ObservedGeneration != 7 {
		t.Fatalf("conditions = %+v", conds)
	}
	// Same status later: the transition time is kept, the message updated.
	upgrade.SetCondition(&conds, upgrade.ConditionProgressing, metav1.ConditionTrue, "Rolling", "m2", t0.Add(time.Hour), 7)
	if !conds[0].LastTransitionTime.Time.Equal(t0.Truncate(time.Second)) || conds[0].Message != "m2" {
		t.Errorf("unchanged status moved the transition time: %+v", conds[0])
	}
	upgrade.SetCondition(&conds, upgrade.ConditionProgressing, metav1.ConditionFalse, "Held", "m3", t0.Add(time.Hour), 7)
	if !conds[0].LastTransitionTime.Time.Equal(t0.Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("changed status kept the old transition time: %+v", conds[0])
	}
}

func TestGateError(t *testing.T) {
	g := &upgrade.Gate{Name: upgrade.GateQuorum, Reason: upgrade.ReasonQuorumLost, Message: "m", Member: "raft-1"}
	if got := g.Error(); got != "gate Quorum (QuorumLost) on raft-1: m" {
		t.Errorf("Error() = %q", got)
	}
	g.Member = ""
	if got := g.Error(); got != "gate Quorum (QuorumLost): m" {
		t.Errorf("Error() = %q", got)
	}
	if s := (&upgrade.SafetyError{Rule: "S1", Index: 2, Action: upgrade.DeletePod{Member: "x"}, Message: "m"}).Error(); !strings.HasPrefix(s, "S1: action 2 (delete pod x") {
		t.Errorf("SafetyError.Error() = %q", s)
	}
}

func TestStatusIdle(t *testing.T) {
	if !(&upgrade.Status{}).Idle() || (&upgrade.Status{Upgrade: &upgrade.UpgradeStatus{}}).Idle() {
		t.Error("Idle() wrong")
	}
}

func TestSetConditionNeverReadsTheClock(t *testing.T) {
	var conds []metav1.Condition
	upgrade.SetCondition(&conds, upgrade.ConditionReady, metav1.ConditionTrue, "Idle", "m", time.Time{}, 7)
	if len(conds) != 1 || !conds[0].LastTransitionTime.IsZero() {
		t.Fatalf("zero now gave %+v", conds)
	}
	upgrade.SetCondition(&conds, upgrade.ConditionReady, metav1.ConditionFalse, "Held", "m", time.Time{}, 7)
	if !conds[0].LastTransitionTime.IsZero() || conds[0].Status != metav1.ConditionFalse {
		t.Fatalf("zero now gave %+v", conds)
	}
	upgrade.SetCondition(nil, upgrade.ConditionReady, metav1.ConditionTrue, "Idle", "m", now, 0) // no panic
}

func TestSetConditionMatchesMeta(t *testing.T) {
	// For a non-zero now, SetCondition behaves like meta.SetStatusCondition.
	steps := []struct {
		typ    string
		status metav1.ConditionStatus
		reason string
		at     time.Duration
	}{
		{upgrade.ConditionReady, metav1.ConditionTrue, "A", 0},
		{upgrade.ConditionProgressing, metav1.ConditionFalse, "B", time.Second},
		{upgrade.ConditionReady, metav1.ConditionTrue, "C", time.Minute},
		{upgrade.ConditionReady, metav1.ConditionFalse, "D", time.Hour},
		{upgrade.ConditionDegraded, metav1.ConditionUnknown, "E", 2 * time.Hour},
	}
	var got, want []metav1.Condition
	for _, s := range steps {
		at := now.Add(s.at + 300*time.Millisecond)
		upgrade.SetCondition(&got, s.typ, s.status, upgrade.Reason(s.reason), "msg "+s.reason, at, 3)
		meta.SetStatusCondition(&want, metav1.Condition{Type: s.typ, Status: s.status, Reason: s.reason,
			Message: "msg " + s.reason, LastTransitionTime: upgrade.Time(at), ObservedGeneration: 3})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SetCondition differs from meta.SetStatusCondition (-meta +ours):\n%s", diff)
	}
}

func TestTimeRounding(t *testing.T) {
	whole := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	frac := whole.Add(800 * time.Millisecond)
	if got := upgrade.Time(frac).Time; !got.Equal(whole) {
		t.Errorf("Time(%v) = %v, want %v", frac, got, whole)
	}
}
