package proptest

import (
	"fmt"
	"sync"

	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/upgrade"
)

// Stats adds up what the scenarios of a property run did, for the test to
// log: pass its Report method as Config.Report (or call it from your own)
// and read the fields once the run is over. Report is safe for concurrent
// use.
type Stats struct {
	mu sync.Mutex
	// Runs counts the scenarios played, Quiet those without a fault that
	// takes a voter down.
	Runs, Quiet int
	// Steps counts Step calls, Holds the Decisions held for a pause or a
	// maintenance window, Sleeps the sleeps until a window opened.
	Steps, Holds, Sleeps int
	// Regressions counts Steps whose observation showed a leader older than
	// the highest version that had led (S8).
	Regressions int
	// Outcomes counts the upgrades that ended, by outcome.
	Outcomes map[upgrade.Outcome]int
}

// Report adds one scenario's result.
func (s *Stats) Report(_ scenario.Scenario, res scenario.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Runs++
	s.Steps += res.Steps
	s.Holds += res.Holds
	s.Sleeps += res.Sleeps
	s.Regressions += res.Regressions
	if res.Quiet {
		s.Quiet++
	}
	if s.Outcomes == nil {
		s.Outcomes = map[upgrade.Outcome]int{}
	}
	for _, o := range res.Outcomes {
		s.Outcomes[o]++
	}
}

// String summarizes the statistics on one line.
func (s *Stats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d runs (%d without faults that take voters down), %d steps, outcomes %v, %d saw a regressed leader (S8), "+
		"%d held Decisions, %d sleeps until a window opened", s.Runs, s.Quiet, s.Steps, s.Outcomes, s.Regressions, s.Holds, s.Sleeps)
}
