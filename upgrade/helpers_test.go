package upgrade_test

import (
	"time"

	"github.com/raftshift/raftshift/internal/fixture"
	"github.com/raftshift/raftshift/upgrade"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// cluster builds a healthy, caught-up observation (fixture.Cluster at now).
func cluster(voters, nonvoters int) upgrade.Observation {
	return fixture.Cluster(now, voters, nonvoters)
}

// member returns a pointer to the named member of obs, for modification.
func member(obs *upgrade.Observation, name string) *upgrade.Member { return fixture.Member(obs, name) }

// down makes the named member's pod not ready.
func down(names ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		for _, n := range names {
			member(o, n).Pod.Ready = false
		}
	}
}

// lagging makes the named member trail the leader by far more than MaxLag.
func lagging(names ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		for _, n := range names {
			member(o, n).Raft.LastIndex = 10
		}
	}
}

// unknownView makes the raft view unknown (fixture.UnknownView).
func unknownView(o *upgrade.Observation) { fixture.UnknownView(o) }
