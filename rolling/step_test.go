package rolling

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

type stepCase struct {
	name    string
	spec    Spec
	obs     upgrade.Observation
	status  upgrade.Status
	wantErr error
	// want lists the expected action kinds, in order (nil: none).
	want []string
	// gate is the expected gate "Name/Reason" ("" for none).
	gate string
	// phase is the expected phase after the step ("" for idle).
	phase Phase
	check func(t *testing.T, d upgrade.Decision)
}

// stepCases returns every TestStep case, section by section in order.
func stepCases() []stepCase {
	return slices.Concat(
		stepCasesIdle(),
		stepCasesErrors(),
		stepCasesStale(),
		stepCasesLocking(),
		stepCasesRolling(),
		stepCasesVerifying(),
		stepCasesUnknown(),
		stepCasesDeadlines(),
		stepCasesTargetChanges(),
		stepCasesFinalize(),
		stepCasesSmallClusters(),
		stepCasesWindow(),
		stepCasesFailback(),
	)
}

func TestStep(t *testing.T) {
	for _, tc := range stepCases() {
		t.Run(tc.name, func(t *testing.T) {
			obsBefore := *tc.obs.DeepCopy()
			stBefore := *tc.status.DeepCopy()
			d, err := Step(tc.spec, tc.obs, tc.status)
			if !reflect.DeepEqual(obsBefore, tc.obs) || !reflect.DeepEqual(stBefore, tc.status) {
				t.Fatal("Step mutated its inputs")
			}
			d2, err2 := Step(tc.spec, tc.obs, tc.status)
			if !reflect.DeepEqual(d, d2) || (err == nil) != (err2 == nil) {
				t.Fatal("Step is not deterministic")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if len(d.Actions) != 0 {
					t.Fatalf("actions on error: %v", d.Actions)
				}
				if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
					t.Errorf("error not lowercase: %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			// the actions in order, then one "Event" per event
			got := kinds(d.Actions)
			for range d.Events {
				got = append(got, "Event")
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("actions, events = %v, want %v\n%s%v", got, tc.want, upgrade.FormatActions(d.Actions), d.Events)
			}
			gate := ""
			if d.Gate != nil {
				gate = string(d.Gate.Name) + "/" + string(d.Gate.Reason)
			}
			if gate != tc.gate {
				t.Errorf("gate = %q, want %q (%v)", gate, tc.gate, d.Gate)
			}
			phase := Phase("")
			if d.Status.Upgrade != nil {
				phase = Phase(d.Status.Upgrade.Phase)
			}
			if phase != tc.phase {
				t.Errorf("phase = %q, want %q", phase, tc.phase)
			}
			if d.Gate != nil && d.Gate.Reason != upgrade.ReasonAwaitingEffects {
				// every refusal is surfaced in a condition (but for the
				// wait on the last Decision's effects, which returns the
				// status exactly as it was)
				found := false
				for _, c := range d.Status.Conditions {
					if c.Reason == string(d.Gate.Reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("gate %v not surfaced in conditions %+v", d.Gate, d.Status.Conditions)
				}
			}
			cu := tc.spec.CatchUp
			safe := upgrade.Safety{CatchUp: cu, AllowDowntime: tc.spec.AllowDowntime && len(tc.obs.Voters()) <= 2}
			if err := safe.Check(tc.obs, d.Actions); err != nil {
				t.Errorf("unsafe actions: %v", err)
			}
			if len(d.Actions) > 0 && (d.Status.LastStepTime.Time.Before(upgrade.Time(tc.obs.Now).Time) || d.Status.ObservedTerm < tc.obs.Raft.Term) {
				t.Errorf("acting decision did not record last step time / term: %s %d", d.Status.LastStepTime, d.Status.ObservedTerm)
			}
			// S5: the current version changes only together with the end of the upgrade.
			if d.Status.Upgrade != nil && tc.status.CurrentVersion != "" && d.Status.CurrentVersion != tc.status.CurrentVersion {
				t.Errorf("current version changed mid-upgrade")
			}
			roundTrip(t, d.Status)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func wantCond(t *testing.T, s upgrade.Status, typ string, st metav1.ConditionStatus, r upgrade.Reason) {
	t.Helper()
	c := meta.FindStatusCondition(s.Conditions, typ)
	if c == nil {
		t.Errorf("condition %s missing", typ)
		return
	}
	if c.Status != st || c.Reason != string(r) {
		t.Errorf("condition %s = %s/%s, want %s/%s (%s)", typ, c.Status, c.Reason, st, r, c.Message)
	}
}

func roundTrip(t *testing.T, s upgrade.Status) {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back upgrade.Status
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	raw2, _ := json.Marshal(back)
	if string(raw) != string(raw2) {
		t.Errorf("status does not survive a JSON round trip:\n%s\n%s", raw, raw2)
	}
}

func TestRollingProgressDeepCopy(t *testing.T) {
	st := inflight(3, PhaseVerifying, 1)
	st.Upgrade.Rolling.Updated = []string{"bao-2"}
	st.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop}
	c := st.DeepCopy()
	c.Upgrade.Rolling.Updated[0] = "x"
	c.Upgrade.Rolling.Ordinal = 0
	c.Upgrade.Paused.Gate = "y"
	if st.Upgrade.Rolling.Updated[0] != "bao-2" || st.Upgrade.Rolling.Ordinal != 1 || st.Upgrade.Paused.Gate != upgrade.GateCrashLoop {
		t.Fatal("DeepCopy shares memory")
	}
	if !reflect.DeepEqual(*st.DeepCopy(), st) {
		t.Fatal("DeepCopy is not equal")
	}
}
