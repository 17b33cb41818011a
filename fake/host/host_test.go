package host_test

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// oneShot is a strategy that takes the lock once, then finishes.
func oneShot(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
	switch {
	case st.Upgrade == nil && st.CurrentVersion == "":
		st.Upgrade = &upgrade.UpgradeStatus{Strategy: "Test", Phase: "Locking", TargetVersion: "2.4.0",
			StartedAt: upgrade.Time(obs.Now)}
		return upgrade.Decision{Status: st, Actions: []upgrade.Action{upgrade.AcquireLock{Holder: "t"}}}, nil
	case st.Upgrade != nil && obs.Lock.Holder == "t":
		st.Upgrade = nil
		st.CurrentVersion = "2.4.0"
		return upgrade.Decision{Status: st, Actions: []upgrade.Action{upgrade.ReleaseLock{Holder: "t"}}}, nil
	}
	return upgrade.Decision{Status: st}, nil
}

func TestRunUntilIdle(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1})
	h := host.New(c, oneShot, upgrade.Status{})
	h.RoundTrip = true
	ticks, err := h.RunUntilIdle(10)
	if err != nil {
		t.Fatal(err)
	}
	if ticks != 2 || h.Status.CurrentVersion != "2.4.0" || h.Status.Upgrade != nil {
		t.Fatalf("ticks=%d status=%+v", ticks, h.Status)
	}
	if len(h.Entries) != 3 || h.Entries[0].Phase != "Locking" || h.Entries[0].Applied != 1 {
		t.Fatalf("entries: %+v", h.Entries)
	}
	if got := h.Timeline(); !strings.Contains(got, "acquire operation lock") || !strings.Contains(got, "release operation lock") {
		t.Fatalf("timeline misses actions:\n%s", got)
	}
}

func TestRunUntilIdleBudget(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1})
	never := func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
		st.Upgrade = &upgrade.UpgradeStatus{Phase: "Forever"}
		return upgrade.Decision{Status: st}, nil
	}
	_, err := host.New(c, never, upgrade.Status{}).RunUntilIdle(5)
	if !errors.Is(err, host.ErrNotIdle) {
		t.Fatalf("err = %v, want ErrNotIdle", err)
	}
}

func TestStepErrorExecutesNothing(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1})
	boom := errors.New("boom")
	bad := func(upgrade.Observation, upgrade.Status) (upgrade.Decision, error) {
		return upgrade.Decision{Actions: []upgrade.Action{upgrade.AcquireLock{Holder: "x"}}}, boom
	}
	h := host.New(c, bad, upgrade.Status{CurrentVersion: "2.3.0"})
	if _, err := h.RunUntilIdle(3); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if c.Truth().Lock.Holder != "" || h.Status.CurrentVersion != "2.3.0" {
		t.Fatal("a failed Step must not execute actions nor change the status")
	}
}

func TestFailedPersistExecutesNothing(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1})
	h := host.New(c, oneShot, upgrade.Status{})
	conflict := errors.New("conflict")
	h.Persist = func(upgrade.Status) error { return conflict }
	e := h.Reconcile()
	if !errors.Is(e.StepErr, conflict) || e.Applied != 0 || len(e.Actions) != 0 {
		t.Fatalf("entry = %+v", e)
	}
	if c.Truth().Lock.Holder != "" || h.Status.Upgrade != nil {
		t.Fatal("a failed persist must execute nothing and keep the previous status")
	}
	h.Persist = nil
	if e := h.Reconcile(); e.StepErr != nil || e.Applied != 1 {
		t.Fatalf("after the store recovers: %+v", e)
	}
}

func TestApplyErrorIsRecorded(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1, LockHolder: "backup"})
	h := host.New(c, oneShot, upgrade.Status{})
	e := h.Reconcile()
	if e.ApplyErr == nil || e.Applied != 0 || !errors.Is(e.ApplyErr, fake.ErrRejected) {
		t.Fatalf("entry = %+v", e)
	}
	if !strings.Contains(e.String(), "FAILED acquire") {
		t.Fatalf("entry string %q does not mark the failed action", e.String())
	}
}

func TestRestartKeepsOnlyPersistedPrecision(t *testing.T) {
	c := fake.New(fake.Config{Seed: 1})
	h := host.New(c, oneShot, upgrade.Status{LastStepTime: metav1.NewTime(c.Now().Add(1500))})
	if err := h.Restart(); err != nil {
		t.Fatal(err)
	}
	if !h.Status.LastStepTime.Time.Equal(c.Now()) {
		t.Fatalf("restart kept sub-second precision: %v", h.Status.LastStepTime)
	}
}
