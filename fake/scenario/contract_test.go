package scenario_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// TestOneContract: rolling and blue-green answer the same input the same
// way (issue 11): the same typed error for the same bad input, the same
// condition set and reasons, the same lock-holder convention, results with
// the same reasons, events apart from actions.
func TestOneContract(t *testing.T) {
	obs := fake.New(fake.Config{Seed: 1, Replicas: 3}).Observe()
	obs.Generation = 7
	steps := map[string]func(version, image string, obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error){
		"rolling": func(v, i string, o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(rolling.Spec{Version: v, Image: i}, o, st)
		},
		"bluegreen": func(v, i string, o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(bluegreen.Spec{Version: v, Image: i, Workload: "bao", Service: "bao"}, o, st)
		},
	}
	idle := upgrade.Status{CurrentVersion: scenario.From, CurrentImage: scenario.Image(scenario.From)}
	noTime := obs
	noTime.Now = time.Time{}
	bad := []struct {
		name           string
		version, image string
		obs            upgrade.Observation
		want           error
	}{
		{"empty version", "", scenario.Image(scenario.To), obs, upgrade.ErrInvalidSpec},
		{"empty image", scenario.To, "", obs, upgrade.ErrInvalidSpec},
		{"huge version", strings.Repeat("1", 200), scenario.Image(scenario.To), obs, upgrade.ErrInvalidSpec},
		{"observation without a time", scenario.To, scenario.Image(scenario.To), noTime, upgrade.ErrInvalidObservation},
	}
	for _, tc := range bad {
		for name, step := range steps {
			d, err := step(tc.version, tc.image, tc.obs, idle)
			if !errors.Is(err, tc.want) || len(d.Actions) != 0 {
				t.Errorf("%s, %s: err %v, actions %v; want %v and nothing to do", tc.name, name, err, d.Actions, tc.want)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("%s, %s: error %q is not one lowercase line", tc.name, name, msg)
			}
		}
	}
	// A policy refusal is a gate in both, with the same reason.
	for name, step := range steps {
		d, err := step("2.4", scenario.Image(scenario.To), obs, idle)
		if err != nil || d.Gate == nil || d.Gate.Name != upgrade.GatePolicy {
			t.Errorf("invalid version, %s: %v %+v", name, err, d.Gate)
		}
	}
	// Conditions: the same four, with ObservedGeneration from the
	// observation; a start records the lock holder "raftshift/<strategy>".
	for name, step := range steps {
		d, err := step(scenario.To, scenario.Image(scenario.To), obs, idle)
		if err != nil || d.Status.Upgrade == nil {
			t.Fatalf("%s: %v %+v", name, err, d.Gate)
		}
		var types []string
		for _, c := range d.Status.Conditions {
			types = append(types, c.Type)
			if c.ObservedGeneration != 7 {
				t.Errorf("%s: condition %s observed generation %d", name, c.Type, c.ObservedGeneration)
			}
		}
		slices.Sort(types)
		if want := []string{"BreakGlass", "Degraded", "Progressing", "Ready"}; !slices.Equal(types, want) {
			t.Errorf("%s: conditions %v, want %v", name, types, want)
		}
		if h := d.Status.Upgrade.LockHolder; h != "raftshift/"+name {
			t.Errorf("%s: lock holder %q", name, h)
		}
	}
	// Whole upgrades: the same result reason.
	for name, strat := range map[string]func() scenario.Strategy{
		"rolling":   func() scenario.Strategy { return scenario.Rolling(rollingSpec()) },
		"bluegreen": func() scenario.Strategy { return scenario.BlueGreen(blueGreenSpec()) },
	} {
		res := scenario.Run(scenario.Scenario{Cluster: fake.Config{Seed: 2, Replicas: 3, TargetedTransfer: true}, Status: current,
			Strategy: strat, Log: func(string) {}})
		if res.Violation != nil || len(res.Outcomes) != 1 || res.Outcomes[0] != upgrade.OutcomeSucceeded {
			t.Errorf("%s: %v %v", name, res.Violation, res.Outcomes)
		}
	}
}

// TestOneContractEventsAndReady: both strategies announce a start and an
// outcome with the shared reasons, and keep Ready=True UpgradeSucceeded
// after finishing, without a status write on the next reconcile.
func TestOneContractEventsAndReady(t *testing.T) {
	for name, step := range map[string]host.StepFunc{
		"rolling": func(o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(rollingSpec(), o, st)
		},
		"bluegreen": func(o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(blueGreenSpec(), o, st)
		},
	} {
		c := fake.New(fake.Config{Seed: 3, Replicas: 3, TargetedTransfer: true, Version: scenario.From, Image: scenario.Image(scenario.From)})
		h := host.New(c, step, current)
		h.RoundTrip = true
		if _, err := h.RunUntilIdle(2000); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var reasons []string
		for _, e := range h.Entries {
			for _, ev := range e.Events {
				reasons = append(reasons, ev.Reason)
			}
		}
		for _, want := range []upgrade.Reason{upgrade.ReasonStarted, upgrade.ReasonSucceeded} {
			if !slices.Contains(reasons, string(want)) {
				t.Errorf("%s: no %s event in %v", name, want, reasons)
			}
		}
		before := h.Status
		c.Tick()
		e := h.Reconcile()
		if len(e.Actions) != 0 || len(e.Events) != 0 {
			t.Errorf("%s: the idle Step after success acted: %v %v", name, e.Actions, e.Events)
		}
		ready := meta.FindStatusCondition(h.Status.Conditions, upgrade.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != string(upgrade.ReasonSucceeded) {
			t.Errorf("%s: Ready after success %+v", name, ready)
		}
		if !reflect.DeepEqual(before, h.Status) {
			t.Errorf("%s: the status changed on the idle Step after success", name)
		}
	}
}
