package fake

import (
	"errors"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

func mustApply(t testing.TB, c *Cluster, actions ...upgrade.Action) {
	t.Helper()
	if n, err := c.Apply(actions); err != nil {
		t.Fatalf("Apply: %d applied: %v", n, err)
	}
}

func applyErr(t testing.TB, c *Cluster, want error, a upgrade.Action) {
	t.Helper()
	n, err := c.Apply([]upgrade.Action{a})
	if !errors.Is(err, want) || n != 0 {
		t.Fatalf("Apply(%s) = %d, %v; want 0, %v", a, n, err, want)
	}
}

func leaderOf(c *Cluster) string {
	obs := c.Truth()
	l, ok := obs.Leader()
	if !ok {
		return ""
	}
	return l.Name
}

func memberOf(t testing.TB, obs upgrade.Observation, name string) upgrade.Member {
	t.Helper()
	m, ok := obs.Member(name)
	if !ok {
		t.Fatalf("no member %s", name)
	}
	return m
}

// runUntil ticks until cond holds, failing after limit ticks.
func runUntil(t testing.TB, c *Cluster, limit int, what string, cond func(upgrade.Observation) bool) {
	t.Helper()
	for range limit {
		if cond(c.Truth()) {
			return
		}
		c.Tick()
	}
	if !cond(c.Truth()) {
		t.Fatalf("after %d ticks: %s never happened", limit, what)
	}
}

func checkHistory(t testing.TB, c *Cluster) {
	t.Helper()
	if err := CheckHistory(c.History()); err != nil {
		t.Fatal(err)
	}
}
