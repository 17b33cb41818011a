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

	"github.com/raftshift/raftshift/examples/etcdcluster/harness"
	"github.com/raftshift/raftshift/rolling"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "etcdcluster:", err)
		os.Exit(1)
	}
}

// Kinds are the runs the command knows, in table order.
var Kinds = []string{"rolling-partition", "rolling-ondelete", "bluegreen", "baseline", "kill-leader"}

// Scenario returns the scenario of a run kind.
func Scenario(kind string, members int, dir string) (harness.Scenario, error) {
	sc := harness.Scenario{Members: members, Dir: dir}
	switch kind {
	case "rolling-partition":
		sc.Strategy, sc.Ordering = harness.Rolling, rolling.OrderingPartition
	case "rolling-ondelete":
		sc.Strategy, sc.Ordering = harness.Rolling, rolling.OrderingOnDelete
	case "bluegreen":
		sc.Strategy = harness.BlueGreen
	case "baseline":
		sc.Strategy = harness.Baseline
	case "kill-leader":
		sc.Strategy, sc.Ordering, sc.KillLeader = harness.Rolling, rolling.OrderingOnDelete, true
	default:
		return sc, fmt.Errorf("unknown run %q (want %s)", kind, strings.Join(Kinds, ", "))
	}
	return sc, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("etcdcluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	membersFlag := fs.String("members", "3,5", "cluster sizes, comma-separated (3 and/or 5)")
	runsFlag := fs.String("runs", strings.Join(Kinds, ","), "runs, comma-separated: "+strings.Join(Kinds, ", "))
	repeat := fs.Int("repeat", 1, "repetitions of every run")
	startDelay := fs.Duration("start-delay", 500*time.Millisecond, "emulated pod start-up time before etcd starts")
	reqTimeout := fs.Duration("request-timeout", 300*time.Millisecond, "the load's timeout of each write and read")
	noFsync := fs.Bool("nosync", false, "run etcd with --unsafe-no-fsync")
	timeline := fs.Bool("timeline", false, "print each run's timeline")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	leaderFlag := fs.String("leader", "", "ordinal of the member leading when the upgrade starts (N, or all: one run per ordinal; default: the elected one)")
	dir := fs.String("dir", "", "data directory (default: a temporary directory, removed afterwards)")
	observe := fs.String("observe", "", "client URLs of a running etcd cluster, comma-separated: print its observation as JSON for examples/plan and exit")
	workload := fs.String("workload", "etcd", "with -observe: the workload (and service) name")
	image := fs.String("image", "quay.io/coreos/etcd", "with -observe: the image repository (the tag is each member's version)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *observe != "" {
		obs, err := liveObservation(context.Background(), strings.Split(*observe, ","), *workload, *image, time.Now())
		if err != nil {
			return err
		}
		return printObservation(stdout, obs)
	}
	var sizes []int
	for _, s := range strings.Split(*membersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || (n != 3 && n != 5) {
			return fmt.Errorf("-members takes 3 and/or 5, not %q", s)
		}
		sizes = append(sizes, n)
	}
	kinds := strings.Split(*runsFlag, ",")
	for i, k := range kinds {
		kinds[i] = strings.TrimSpace(k)
		if _, err := Scenario(kinds[i], 3, ""); err != nil {
			return err
		}
	}
	leaders := func(n int) ([]string, error) {
		switch *leaderFlag {
		case "":
			return []string{""}, nil
		case "all":
			var out []string
			for i := range n {
				out = append(out, fmt.Sprintf("etcd-%d", i))
			}
			return out, nil
		}
		i, err := strconv.Atoi(*leaderFlag)
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("-leader takes all or an ordinal below %d, not %q", n, *leaderFlag)
		}
		return []string{fmt.Sprintf("etcd-%d", i)}, nil
	}
	for _, n := range sizes {
		if _, err := leaders(n); err != nil {
			return err
		}
	}
	if *repeat < 1 || *repeat > 20 {
		return fmt.Errorf("-repeat must be between 1 and 20, not %d", *repeat)
	}
	base := *dir
	if base == "" {
		tmp, err := os.MkdirTemp("", "etcdcluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		base = tmp
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var reports []harness.Report
	var failures []string
	i := 0
	for range *repeat {
		for _, n := range sizes {
			ls, _ := leaders(n)
			for _, kind := range kinds {
				for _, leader := range ls {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					i++
					sc, _ := Scenario(kind, n, filepath.Join(base, fmt.Sprintf("%d-%s-%d", i, kind, n)))
					sc.StartDelay, sc.NoFsync, sc.Leader, sc.RequestTimeout = *startDelay, *noFsync, leader, *reqTimeout
					fmt.Fprintf(stderr, "running %s with %d members (leader %q)...\n", kind, n, leader)
					rep, err := harness.Run(ctx, sc)
					reports = append(reports, rep)
					what := fmt.Sprintf("%s with %d members", kind, n)
					switch {
					case err != nil:
						failures = append(failures, fmt.Sprintf("%s: %v", what, err))
					case rep.WritesLost > 0:
						failures = append(failures, fmt.Sprintf("%s: %d acknowledged writes lost", what, rep.WritesLost))
					case len(rep.Violations) > 0:
						failures = append(failures, fmt.Sprintf("%s: %d linearizability violations, first: %s", what, len(rep.Violations), rep.Violations[0]))
					}
					if *timeline && !*asJSON {
						fmt.Fprintf(stdout, "== %s\n%s\n\n", what, strings.Join(rep.Timeline, "\n"))
					}
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
			fmt.Fprintf(stdout, "%d members, %s: leaders %s; restarts %s", r.Members, r.Name(), strings.Join(r.Leaders, " -> "), strings.Join(r.Restarts, ","))
			if len(r.PredictedRestarts) > 0 || r.PlanError != "" {
				fmt.Fprintf(stdout, "; predicted %s, %d leader changes%s", strings.Join(r.PredictedRestarts, ","), r.PredictedLeaderChanges, r.PlanError)
			}
			fmt.Fprintln(stdout)
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return nil
}
