// Command plan answers "what would an upgrade do right now?" for a real
// cluster: it reads an upgrade.Observation as JSON (captured by any adapter:
// adapters/kubernetes plus adapters/openbao or adapters/etcd, or written by
// hand), seeds the simulated cluster of package fake from it, runs the
// chosen strategy to the target and prints the gate that holds the upgrade
// today, the first decision, the restart order, the leader changes and the
// predicted timeline (package fake/plan).
//
//	go run ./examples/plan -observation obs.json -version 2.4.0 -image openbao/openbao:2.4.0
//	go run ./examples/plan -observation obs.json -version 2.4.0 -image ... -ordering ondelete
//	go run ./examples/plan -observation obs.json -version 2.4.0 -image ... -strategy bluegreen
//	go run ./examples/plan -example > obs.json   # an observation to start from
//
// The prediction uses the simulator's timing (pod start-up, replication,
// elections: -seed, -pod-start, -replication); what the observation leaves
// unknown is assumed and printed first.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/plan"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(out)
	file := fs.String("observation", "", "observation JSON file (- for standard input)")
	example := fs.Bool("example", false, "print an example observation (a healthy 3-member OpenBao cluster) and exit")
	strategy := fs.String("strategy", "rolling", "rolling or bluegreen")
	ordering := fs.String("ordering", "", "rolling ordering: partition, ondelete, or empty to follow the workload")
	version := fs.String("version", "", "target version")
	image := fs.String("image", "", "target image")
	seed := fs.Uint64("seed", 1, "simulation seed (election timing)")
	podStart := fs.Int("pod-start", 5, "simulated seconds a restarted pod takes to become ready")
	replication := fs.Uint64("replication", 200, "log entries a lagging member catches up per simulated second")
	maxTicks := fs.Int("max-ticks", 3600, "simulated seconds before giving up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *example {
		obs := fake.New(fake.Config{Seed: 1, Replicas: 3}).Observe()
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(obs)
	}
	if *file == "" || *version == "" || *image == "" {
		return errors.New("-observation, -version and -image are required (see -h)")
	}
	obs, err := readObservation(*file, stdin)
	if err != nil {
		return err
	}
	o := plan.Options{
		Cluster:  fake.Config{Seed: *seed, PodStartTicks: *podStart, ReplicationRate: *replication},
		MaxTicks: *maxTicks,
	}
	switch *strategy {
	case "rolling":
		o.Strategy = upgrade.StrategyRolling
		o.Rolling = rolling.Spec{Version: *version, Image: *image}
		switch *ordering {
		case "":
		case "partition":
			o.Rolling.Ordering = rolling.OrderingPartition
		case "ondelete":
			o.Rolling.Ordering = rolling.OrderingOnDelete
		default:
			return fmt.Errorf("unknown ordering %q (want partition or ondelete)", *ordering)
		}
	case "bluegreen":
		o.Strategy = upgrade.StrategyBlueGreen
		o.BlueGreen = bluegreen.Spec{Version: *version, Image: *image, AutoPromote: true}
	default:
		return fmt.Errorf("unknown strategy %q (want rolling or bluegreen)", *strategy)
	}
	rep, err := plan.Run(obs, o)
	fmt.Fprint(out, rep)
	return err
}

func readObservation(file string, stdin io.Reader) (upgrade.Observation, error) {
	var obs upgrade.Observation
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return obs, err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obs); err != nil {
		return obs, fmt.Errorf("decode observation %s: %w", file, err)
	}
	return obs, nil
}
