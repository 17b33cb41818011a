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
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftshift/raftshift/examples/raftcluster/harness"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nodes != 3 && *nodes != 5 {
		return fmt.Errorf("-nodes must be 3 or 5, not %d", *nodes)
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
	for i, st := range strategies {
		fmt.Fprintf(stderr, "running %s with %d nodes...\n", st, *nodes)
		rep, err := harness.Run(ctx, harness.Scenario{
			Strategy: st, Nodes: *nodes, From: *from, To: *to, Timeout: *timeout,
			Dir: filepath.Join(base, fmt.Sprintf("%d-%s", i, st)), StartDelay: *startDelay, NoSync: *noSync, Logger: logger, BadTarget: *badTarget,
		})
		reports = append(reports, rep)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", st, err))
		} else if rep.WritesLost > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d acknowledged writes lost", st, rep.WritesLost))
		}
		if *timeline && !*asJSON {
			fmt.Fprintf(stdout, "== %s, %d nodes\n%s\n\n", st, *nodes, strings.Join(rep.Timeline, "\n"))
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
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return nil
}
