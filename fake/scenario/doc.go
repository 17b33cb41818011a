// Package scenario plays whole simulated upgrades with faults and checks
// every invariant of package check after every step: the way raftshift's
// own property tests, its exhaustive crash-point enumeration and its soak
// command exercise the strategies, and the way a user can exercise theirs.
//
// A Scenario is a fake cluster, a Strategy (a Step with its spec, the
// requests people make and an operator's answers), the status the host
// starts from, and a schedule of Events: pod, leader and network faults,
// observation faults (unknown or partial Raft views, a stale informer
// cache), requests (retarget, revert, rollback or abort, promote, retry,
// break-glass acknowledgement and its near misses), and host failures (a
// crash after any prefix of a Decision's actions with the status persisted
// or not, a restart, lag, a sleep until a maintenance window opens). An
// event may wait for an upgrade phase instead of a reconcile number.
// Run plays it deterministically; Random draws one
// from a seed; Exhaustive enumerates every single crash point, request and
// observation fault of a run.
//
// # Usage
//
//	sc := scenario.Random(seed, scenario.RandomOptions{})
//	if res := scenario.Run(sc); res.Violation != nil {
//		log.Fatalf("%s: %v (events %v)", sc.Name, res.Violation, sc.Events)
//	}
//
//	rep := scenario.Exhaustive(scenario.Scenario{
//		Cluster:  fake.Config{Seed: 1, Replicas: 3, TargetedTransfer: true},
//		Strategy: func() scenario.Strategy { return scenario.Rolling(spec) },
//	})
//	// rep.Runs schedules played, rep.Failures the ones that broke a rule
package scenario
