package contract_test

import (
	"time"

	"github.com/raftshift/raftshift/internal/fixture"
	"github.com/raftshift/raftshift/upgrade"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func cluster(voters, nonvoters int) upgrade.Observation {
	return fixture.Cluster(now, voters, nonvoters)
}

func unknownView(o *upgrade.Observation) { fixture.UnknownView(o) }

func member(obs *upgrade.Observation, name string) *upgrade.Member { return fixture.Member(obs, name) }
