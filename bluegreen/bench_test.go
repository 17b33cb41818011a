package bluegreen

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// waitingForSync is the steady "waiting" state of a blue-green upgrade:
// Syncing with n blue voters and n green non-voters, the last green member
// still trailing the leader's log, so Step only holds (no action). The
// status carries the conditions left by the previous Step.
func waitingForSync(n int) (Spec, upgrade.Observation, upgrade.Status) {
	now := t0.Add(time.Minute)
	green := make([]string, n)
	for i := range green {
		green[i] = "nv"
	}
	obs := cluster(now, n, green...)
	obs.Lock.Holder = DefaultLockHolder
	obs.Members[len(obs.Members)-1].Raft.LastIndex = 1000 // lags by 4000 entries
	st := inFlight(PhaseSyncing, t0, func(s *upgrade.Status) {
		s.Upgrade.BlueGreen.BlueReplicas, s.Upgrade.BlueGreen.GreenReplicas = int32(n), int32(n)
	})
	spec := baseSpec()
	d, err := Step(spec, obs, st)
	if err != nil || len(d.Actions) != 0 || d.Gate == nil || d.Gate.Name != upgrade.GateSync || d.Gate.Reason != upgrade.ReasonLogLag {
		panic(fmt.Sprintf("unexpected setup decision: %v %v %v", d.Actions, d.Gate, err))
	}
	return spec, obs, d.Status
}

// BenchmarkStep measures one Step on clusters of n blue members: "start"
// (idle, policy and prerequisites, start of the upgrade), "waiting" (the
// steady state of waitingForSync: n blue voters, n green non-voters, one
// lagging; no action) and "demote" (n blue and n green voters, green
// leads: safety-checked demotion).
func BenchmarkStep(b *testing.B) {
	now := t0.Add(time.Minute)
	for _, n := range []int{3, 5, 9, 101} {
		b.Run(fmt.Sprintf("start/members=%d", n), func(b *testing.B) {
			obs := cluster(now, n)
			spec := baseSpec()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Step(spec, obs, upgrade.Status{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("waiting/members=%d+%d", n, n), func(b *testing.B) {
			spec, obs, st := waitingForSync(n)
			b.ReportAllocs()
			for b.Loop() {
				d, err := Step(spec, obs, st)
				if err != nil || d.Gate == nil || len(d.Actions) != 0 {
					b.Fatal(err, d.Gate)
				}
			}
		})
		b.Run(fmt.Sprintf("demote/members=%d+%d", n, n), func(b *testing.B) {
			green := make([]string, n)
			for i := range green {
				green[i] = "v"
			}
			obs := cluster(now, n, green...)
			setLeader(&obs, greenW+"-0")
			st := inFlight(PhaseDemotingBlue, t0, func(s *upgrade.Status) {
				s.Upgrade.BlueGreen.BlueReplicas, s.Upgrade.BlueGreen.GreenReplicas = int32(n), int32(n)
			})
			spec := baseSpec()
			b.ReportAllocs()
			for b.Loop() {
				d, err := Step(spec, obs, st)
				if err != nil || len(d.Actions) == 0 {
					b.Fatal(err, d.Gate)
				}
			}
		})
	}
}

// TestStepWaitingAllocs keeps the steady waiting state (5 blue voters, 5
// green non-voters, one lagging) within its allocation budget.
func TestStepWaitingAllocs(t *testing.T) {
	spec, obs, st := waitingForSync(5)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := Step(spec, obs, st); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("waiting Step allocates %.0f times, budget 20", allocs)
	}
}

// BenchmarkFullUpgrade runs a complete simulated 3-member blue-green
// upgrade (auto-promotion, both hooks, step-down only) per iteration,
// simulator included.
func BenchmarkFullUpgrade(b *testing.B) {
	spec := goldenSpec()
	spec.AutoPromote = true
	b.ReportAllocs()
	for b.Loop() {
		c := fake.New(fake.Config{Seed: 1, Replicas: 3})
		var st upgrade.Status
		for i := 0; ; i++ {
			if i == 1000 {
				b.Fatal("upgrade did not finish")
			}
			d, err := Step(spec, c.Observe(), st)
			if err != nil {
				b.Fatal(err)
			}
			st = d.Status
			if _, err := c.Apply(d.Actions); err != nil {
				b.Fatal(err)
			}
			if st.Upgrade == nil && st.CurrentVersion == spec.Version {
				break
			}
			c.Tick()
		}
	}
}

// TestCopyStatus keeps copyStatus equivalent to Status.DeepCopy: equal
// content, no memory shared with the original, on both of its paths.
func TestCopyStatus(t *testing.T) {
	cond := func(typ string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "R", Message: "m " + typ, LastTransitionTime: upgrade.Time(t0)}
	}
	full := func(mut ...func(*upgrade.Status)) upgrade.Status {
		s := inFlight(PhaseSyncing, t0, func(s *upgrade.Status) {
			s.Upgrade.BlueGreen.SyncedSince = upgrade.Time(t0)
			s.Upgrade.BlueGreen.LastAction = "x"
			s.Conditions = []metav1.Condition{cond("A"), cond("B")}
			s.LastResult = &upgrade.Result{Outcome: upgrade.OutcomeAborted, TargetVersion: toV}
			s.BreakGlass = &upgrade.BreakGlass{Nonce: "n", RecoverySteps: []string{"a", "b"}}
			s.Handled.Retry, s.ObservedTerm, s.LastStepTime = "r", 7, upgrade.Time(t0)
		})
		for _, f := range mut {
			f(&s)
		}
		return s
	}
	cases := map[string]upgrade.Status{
		"full":         full(),
		"idle":         full(func(s *upgrade.Status) { s.Upgrade = nil }),
		"empty":        {},
		"paused":       full(func(s *upgrade.Status) { s.Upgrade.Paused = &upgrade.Pause{Reason: "p"} }),
		"rolling":      full(func(s *upgrade.Status) { s.Upgrade.Rolling = &upgrade.RollingProgress{Updated: []string{"u"}} }),
		"noBlueGreen":  full(func(s *upgrade.Status) { s.Upgrade.BlueGreen = nil }),
		"manyConds":    full(func(s *upgrade.Status) { s.Conditions = append(s.Conditions, cond("C"), cond("D"), cond("E")) }),
		"fourConds":    full(func(s *upgrade.Status) { s.Conditions = append(s.Conditions, cond("C"), cond("D")) }),
		"noConditions": full(func(s *upgrade.Status) { s.Conditions = nil }),
	}
	for name, s := range cases {
		want := s.DeepCopy()
		got := copyStatus(&s)
		if len(got.Conditions) == 0 && len(want.Conditions) == 0 {
			got.Conditions, want.Conditions = nil, nil // both empty: finishConditions fills them
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: copyStatus = %+v, DeepCopy = %+v", name, got, *want)
		}
		pristine := s.DeepCopy()
		got = copyStatus(&s)
		if got.Upgrade != nil {
			got.Upgrade.Phase = "changed"
			if got.Upgrade.BlueGreen != nil {
				got.Upgrade.BlueGreen.Green = "changed"
			}
		}
		for i := range got.Conditions {
			got.Conditions[i].Message = "changed"
		}
		got.Conditions = append(got.Conditions, cond("Z"))
		if got.LastResult != nil {
			got.LastResult.Reason = "changed"
		}
		if got.BreakGlass != nil {
			got.BreakGlass.RecoverySteps[0] = "changed"
		}
		if !reflect.DeepEqual(&s, pristine) {
			t.Errorf("%s: copyStatus shares memory with the original", name)
		}
	}
	// copyStatus knows every reference-typed field of these types; a new
	// one must be copied there too.
	refs := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			switch rt.Field(i).Type.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func:
				out = append(out, rt.Field(i).Name)
			}
		}
		return out
	}
	for _, c := range []struct {
		v    any
		want []string
	}{
		{upgrade.Status{}, []string{"Upgrade", "Conditions", "LastResult", "BreakGlass"}},
		{upgrade.UpgradeStatus{}, []string{"Paused", "Rolling", "BlueGreen"}},
		{upgrade.BlueGreenProgress{}, nil},
		{upgrade.Result{}, nil},
		{upgrade.BreakGlass{}, []string{"RecoverySteps"}},
	} {
		if got := refs(c.v); !slices.Equal(got, c.want) {
			t.Errorf("%T has reference fields %v, copyStatus handles %v", c.v, got, c.want)
		}
	}
}
