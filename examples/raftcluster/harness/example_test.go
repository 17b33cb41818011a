package harness_test

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/examples/raftcluster/harness"
)

func ExampleParseStrategy() {
	for _, s := range []string{"rolling", "BlueGreen", "baseline", "canary"} {
		st, err := harness.ParseStrategy(s)
		fmt.Println(st, err != nil)
	}
	// Output:
	// rolling false
	// bluegreen false
	// baseline false
	//  true
}

func ExampleFormatSummary() {
	var reports []harness.Report
	for i, gap := range []time.Duration{30, 10, 20} {
		reports = append(reports, harness.Report{Strategy: harness.Rolling, Nodes: 3, Ordering: "OnDelete", TargetedTransfer: true,
			StartLeader: "raft-0", LeaderChosen: true, LeaderChanges: 1 + i/2, Duration: time.Duration(5+i) * time.Second,
			LongestWriteGap: gap * time.Millisecond})
	}
	fmt.Print(harness.FormatSummary(reports))
	// Output:
	// strategy   variant                  nodes leader0 runs duration                 leaderChg    longest gap            gap@change             leaderless              lost
	// rolling    ondelete                     3  raft-0    3 6s [5s, 7s]              1 [1, 2]     20ms [10ms, 30ms]      0s [0s, 0s]            0s [0s, 0s]                0
}
