package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftshift/raftshift/fake/scenario"
)

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 10000, "scenarios to run")
	flag.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "parallel workers")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the first scenario (scenario i uses seed+i)")
	flag.StringVar(&o.strategy, "strategy", "both", "rolling, bluegreen or both")
	flag.IntVar(&o.maxSteps, "max-steps", 200, "most reconciles with events per scenario")
	flag.IntVar(&o.odds, "odds", 3, "one reconcile in N is preceded by an event")
	flag.IntVar(&o.contract, "contract", 10, "check the per-Step contract (determinism, JSON round trip, fixed points: three more Steps per reconcile) in one run in N; 1 checks every run")
	flag.BoolVar(&o.verbose, "v", false, "print the minimized timeline of the first violation")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the soak to this file")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// Runs allocate small, short-lived simulations: collecting ten
		// times less often buys a third more runs per second (420 -> 567
		// with 2 workers) for about 160 MB of resident memory.
		debug.SetGCPercent(1000)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := soak(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type options struct {
	runs, workers int
	seed          uint64
	strategy      string
	maxSteps      int
	odds          int
	contract      int
	verbose       bool
}

// contractChecked reports whether the run of seed checks the per-Step
// contract.
func (o options) contractChecked(seed uint64) bool {
	return o.contract <= 1 || seed%uint64(o.contract) == 0
}

// failure is a violating run.
type failure struct {
	seed uint64
	msg  string
}

// soak runs o.runs random scenarios across o.workers goroutines and prints
// throughput, steps and violations, with a minimal reproduction of the
// first violation. It fails when any run broke an invariant.
func soak(w io.Writer, o options) error {
	var kinds []scenario.Kind
	switch o.strategy {
	case "both":
	case "rolling":
		kinds = []scenario.Kind{scenario.KindRolling}
	case "bluegreen":
		kinds = []scenario.Kind{scenario.KindBlueGreen}
	default:
		return fmt.Errorf("unknown strategy %q", o.strategy)
	}
	if o.runs <= 0 || o.workers <= 0 {
		return fmt.Errorf("runs and workers must be positive")
	}
	opts := scenario.RandomOptions{Strategies: kinds, MaxSteps: o.maxSteps, EventOdds: o.odds}
	var next, done, steps, events, contracts atomic.Int64
	var mu sync.Mutex
	var failures []failure
	start := time.Now()
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(o.runs) {
					return
				}
				seed := o.seed + uint64(i)
				sc := scenario.Random(seed, opts)
				sc.FastSteps = !o.contractChecked(seed)
				if !sc.FastSteps {
					contracts.Add(1)
				}
				res := scenario.Run(sc)
				steps.Add(int64(res.Steps))
				events.Add(int64(len(sc.Events)))
				if res.Violation != nil {
					mu.Lock()
					failures = append(failures, failure{seed: seed, msg: res.Violation.Error()})
					mu.Unlock()
				}
				if n := done.Add(1); n%100000 == 0 {
					el := time.Since(start)
					fmt.Fprintf(w, "%d runs, %.0f runs/s\n", n, float64(n)/el.Seconds())
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(w, "runs=%d workers=%d strategy=%s seeds=%d..%d contract=%d/%d\n", o.runs, o.workers, o.strategy,
		o.seed, o.seed+uint64(o.runs)-1, contracts.Load(), o.runs)
	fmt.Fprintf(w, "time=%s runs/s=%.0f steps=%d steps/s=%.0f events=%d violations=%d\n",
		el.Round(time.Millisecond), float64(o.runs)/el.Seconds(), steps.Load(), float64(steps.Load())/el.Seconds(),
		events.Load(), len(failures))
	if len(failures) == 0 {
		return nil
	}
	sort.Slice(failures, func(i, j int) bool { return failures[i].seed < failures[j].seed })
	for i, f := range failures {
		if i == 10 {
			fmt.Fprintf(w, "... and %d more\n", len(failures)-10)
			break
		}
		fmt.Fprintf(w, "violation: seed %d: %s\n", f.seed, f.msg)
	}
	first := scenario.Random(failures[0].seed, opts)
	first.FastSteps = !o.contractChecked(failures[0].seed)
	min := scenario.Minimize(first)
	res := scenario.Run(min)
	fmt.Fprintf(w, "minimal reproduction of seed %d (%s), %d of %d events, %d steps:\n", failures[0].seed, first.Name,
		len(min.Events), len(first.Events), min.Steps)
	for _, e := range min.Events {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if res.Violation != nil {
		fmt.Fprintf(w, "  -> %s\n", res.Violation)
	}
	fmt.Fprintf(w, "reproduce: go run ./examples/soak -runs 1 -seed %d -strategy %s -max-steps %d -odds %d -contract %d -v\n",
		failures[0].seed, o.strategy, o.maxSteps, o.odds, o.contract)
	if o.verbose {
		var b strings.Builder
		min.Log = func(l string) { b.WriteString("    " + l + "\n") }
		scenario.Run(min)
		fmt.Fprint(w, b.String())
	}
	return fmt.Errorf("%d of %d runs broke an invariant", len(failures), o.runs)
}
