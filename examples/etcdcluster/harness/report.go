package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raftshift/raftshift/rolling"
)

// Report is what a scenario measured. The figures cover the upgrade and
// the tail after it, not the warm-up.
type Report struct {
	// Strategy, Ordering (rolling only), Members and KillLeader describe
	// the scenario; StartLeader led when the upgrade started and Killed is
	// the leader the fault killed ("" if none).
	Strategy    Strategy         `json:"strategy"`
	Ordering    rolling.Ordering `json:"ordering,omitempty"`
	Members     int              `json:"members"`
	KillLeader  bool             `json:"killLeader,omitempty"`
	StartLeader string           `json:"startLeader,omitempty"`
	Killed      string           `json:"killed,omitempty"`
	// Completed is true when the upgrade reached the target; Outcome is
	// the strategy's last result ("-" for the baseline).
	Completed bool   `json:"completed"`
	Outcome   string `json:"outcome,omitempty"`
	// Duration is how long the upgrade took.
	Duration time.Duration `json:"duration"`
	// Steps counts Step calls, Actions executed actions and ActionErrors
	// actions that failed.
	Steps        int `json:"steps"`
	Actions      int `json:"actions"`
	ActionErrors int `json:"actionErrors"`
	// LeadershipMoves counts the TransferLeadership and StepDown actions
	// executed.
	LeadershipMoves int `json:"leadershipMoves"`
	// WritesAcked counts acknowledged writes; WritesLost those missing when
	// read back afterwards (must be 0). WriteAttempts and WriteFailures
	// count the writer's requests; WriteErrors classes the failures.
	WritesAcked   int            `json:"writesAcked"`
	WritesLost    int            `json:"writesLost"`
	WriteAttempts int            `json:"writeAttempts"`
	WriteFailures int            `json:"writeFailures"`
	WriteErrors   map[string]int `json:"writeErrors,omitempty"`
	// LongestWriteGap is the longest time without an acknowledged write.
	LongestWriteGap time.Duration `json:"longestWriteGap"`
	// Reads and ReadFailures count the reader's linearizable reads;
	// Violations lists the reads that broke linearizability (must be
	// empty).
	Reads        int      `json:"reads"`
	ReadFailures int      `json:"readFailures"`
	Violations   []string `json:"violations,omitempty"`
	// LeaderChanges counts changes of the leading member, Elections new
	// terms with a leader, LongestLeaderless the longest time without one;
	// Leaders lists the successive leaders.
	LeaderChanges     int           `json:"leaderChanges"`
	Elections         int           `json:"elections"`
	LongestLeaderless time.Duration `json:"longestLeaderless"`
	Leaders           []string      `json:"leaders,omitempty"`
	// LeaderDeletes lists the pods deleted (DeletePod) while their member
	// led (must be empty: S3).
	LeaderDeletes []string `json:"leaderDeletes,omitempty"`
	// Restarts lists the pods deleted and recreated, in order.
	// PredictedRestarts and PredictedLeaderChanges are what fake/plan
	// predicted from an observation of the cluster just before the upgrade
	// (rolling only); PlanError says why there is no prediction.
	Restarts               []string `json:"restarts,omitempty"`
	PredictedRestarts      []string `json:"predictedRestarts,omitempty"`
	PredictedLeaderChanges int      `json:"predictedLeaderChanges,omitempty"`
	PlanError              string   `json:"planError,omitempty"`
	// PlanAttempts counts the observations taken for the prediction.
	PlanAttempts int `json:"planAttempts,omitempty"`
	// FinalMembers lists "pod version" of the pods at the end.
	FinalMembers []string `json:"finalMembers,omitempty"`
	// Timeline lists phases, gates, actions, pod events and faults.
	Timeline []string `json:"timeline,omitempty"`
}

// Name names the run: strategy, ordering, fault.
func (r Report) Name() string { return r.describe() }

// FormatTable renders reports as a Markdown table. "predicted" is
// fake/plan's prediction from the observation before the upgrade: leader
// changes, and "=" when it predicted the restart order the run showed.
func FormatTable(reports []Report) string {
	var b strings.Builder
	b.WriteString("| members | run | leader at start | completed | duration | leader changes | predicted | longest write gap | writes acked | failed writes | lost writes | reads | linearizability violations |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "| %d | %s | %s | %v | %s | %d | %s | %s | %d | %d | %d | %d | %d |\n", r.Members, r.describe(), r.StartLeader, r.Completed,
			r.Duration.Round(100*time.Millisecond), r.LeaderChanges, r.predicted(), r.LongestWriteGap.Round(time.Millisecond),
			r.WritesAcked, r.WriteFailures, r.WritesLost, r.Reads, len(r.Violations))
	}
	return b.String()
}

// PredictionMatches reports whether fake/plan predicted the restart order
// and the leader changes the run showed.
func (r Report) PredictionMatches() bool {
	return r.PlanError == "" && len(r.PredictedRestarts) > 0 && slices.Equal(r.PredictedRestarts, r.Restarts) &&
		r.PredictedLeaderChanges == r.LeaderChanges
}

func (r Report) predicted() string {
	switch {
	case r.PlanError != "":
		return "error"
	case len(r.PredictedRestarts) == 0:
		return "-"
	case slices.Equal(r.PredictedRestarts, r.Restarts):
		return fmt.Sprintf("%d, order =", r.PredictedLeaderChanges)
	}
	return fmt.Sprintf("%d, order %s", r.PredictedLeaderChanges, strings.Join(r.PredictedRestarts, ","))
}
