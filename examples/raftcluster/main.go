package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftshift/raftshift/examples/raftcluster/harness"
	"github.com/raftshift/raftshift/rolling"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "raftcluster:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("raftcluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.Int("nodes", 3, "number of voters: 3 or 5")
	strategy := fs.String("strategy", "both", "rolling, bluegreen or both")
	compare := fs.Bool("compare", false, "also run the naive baseline and print a comparison")
	from := fs.String("from", "1.0.0", "initial version")
	to := fs.String("to", "1.1.0", "target version")
	dir := fs.String("dir", "", "data directory (default: a temporary directory, removed afterwards)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on each upgrade")
	startDelay := fs.Duration("start-delay", time.Second, "emulated pod start-up time before a node starts (negative: none)")
	noSync := fs.Bool("nosync", false, "skip fsync in the bolt stores")
	badTarget := fs.Bool("bad-target", false, "make the target version crash on start: rolling is rolled back, blue-green aborts")
	timeline := fs.Bool("timeline", false, "print each run's timeline (actions, phases, gates, leader changes)")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	verbose := fs.Bool("v", false, "print Raft's warnings")
	ordering := fs.String("ordering", "partition", "rolling ordering and the workload's update strategy: partition (RollingUpdate) or ondelete (OnDelete)")
	handoff := fs.Bool("handoff", false, "a leading node hands leadership over when its pod is deleted (OpenBao on SIGTERM)")
	targeted := fs.Bool("targeted", true, "targeted leadership transfer is available (false: StepDown only, like OpenBao)")
	leader := fs.String("leader", "", "ordinal of the member leading when the upgrade starts, or \"all\" for one run per ordinal (default: whoever wins the first election)")
	runs := fs.Int("runs", 1, "runs of each configuration; more than one adds the median and range per configuration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *nodes != 3 && *nodes != 5 {
		return fmt.Errorf("-nodes must be 3 or 5, not %d", *nodes)
	}
	if *runs < 1 || *runs > 50 {
		return fmt.Errorf("-runs must be between 1 and 50, not %d", *runs)
	}
	var order rolling.Ordering
	switch strings.ToLower(*ordering) {
	case "partition":
		order = rolling.OrderingPartition
	case "ondelete":
		order = rolling.OrderingOnDelete
	default:
		return fmt.Errorf("-ordering must be partition or ondelete, not %q", *ordering)
	}
	leaders := []string{""}
	switch *leader {
	case "":
	case "all":
		leaders = nil
		for i := range *nodes {
			leaders = append(leaders, fmt.Sprintf("raft-%d", i))
		}
	default:
		i, err := strconv.Atoi(*leader)
		if err != nil || i < 0 || i >= *nodes {
			return fmt.Errorf("-leader must be an ordinal below %d or \"all\", not %q", *nodes, *leader)
		}
		leaders = []string{fmt.Sprintf("raft-%d", i)}
	}
	var strategies []harness.Strategy
	switch strings.ToLower(*strategy) {
	case "both":
		strategies = []harness.Strategy{harness.Rolling, harness.BlueGreen}
	default:
		st, err := harness.ParseStrategy(*strategy)
		if err != nil || st == harness.Baseline {
			return fmt.Errorf("-strategy must be rolling, bluegreen or both, not %q", *strategy)
		}
		strategies = []harness.Strategy{st}
	}
	if *compare {
		if *badTarget {
			return fmt.Errorf("-compare and -bad-target cannot be combined: the baseline has no rollback")
		}
		strategies = append(strategies, harness.Baseline)
	}
	base := *dir
	if base == "" {
		tmp, err := os.MkdirTemp("", "raftcluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		base = tmp
	}
	var logger hclog.Logger
	if *verbose {
		logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: stderr})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var reports []harness.Report
	var failures []string
	i := 0
	for run := range *runs {
		for _, l := range leaders {
			for _, st := range strategies {
				if ctx.Err() != nil {
					break
				}
				i++
				sc := harness.Scenario{
					Strategy: st, Nodes: *nodes, From: *from, To: *to, Timeout: *timeout,
					Dir: filepath.Join(base, fmt.Sprintf("%d-%s", i, st)), StartDelay: *startDelay, NoSync: *noSync, Logger: logger, BadTarget: *badTarget,
					Ordering: order, HandoffOnShutdown: *handoff, NoTargetedTransfer: !*targeted, Leader: l,
				}
				what := fmt.Sprintf("%s with %d nodes", st, *nodes)
				if l != "" {
					what += ", " + l + " leading"
				}
				if *runs > 1 {
					what += fmt.Sprintf(", run %d/%d", run+1, *runs)
				}
				fmt.Fprintf(stderr, "running %s...\n", what)
				rep, err := harness.Run(ctx, sc)
				reports = append(reports, rep)
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s: %v", what, err))
				} else if rep.WritesLost > 0 {
					failures = append(failures, fmt.Sprintf("%s: %d acknowledged writes lost", what, rep.WritesLost))
				}
				if *timeline && !*asJSON {
					fmt.Fprintf(stdout, "== %s (%s)\n%s\n\n", what, rep.Variant(), strings.Join(rep.Timeline, "\n"))
				}
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, harness.FormatTable(reports))
		for _, r := range reports {
			outcome := r.Outcome
			if outcome == "" {
				outcome = "-"
			}
			fmt.Fprintf(stdout, "%s: outcome %s, leaders %s\n", r.Strategy, outcome, strings.Join(r.Leaders, " -> "))
		}
		if len(reports) > len(strategies) {
			fmt.Fprintf(stdout, "\nmedian [min, max] per configuration:\n%s", harness.FormatSummary(reports))
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return nil
}
