// Package check is raftshift's safety oracle: the invariants S1–S7 of the
// design contract as plain functions that judge a Decision against the
// Observation it was made from (Decision), a status transition (Transition)
// and a simulated cluster's history (History). Each violation is a
// *Violation naming the rule, the step and the member.
//
// The checks are written independently of package upgrade's Safety (they
// re-derive "caught up" too), so they can hold the strategies, Safety itself
// and any host or strategy wrapper a user writes to the same rules.
//
// # Usage
//
//	obs := cluster.Observe()
//	d, err := strategy(obs, status)
//	if err := check.Decision(obs, d.Actions, check.Options{CatchUp: spec.CatchUp}); err != nil { ... }
//	if err := check.Transition(status, d, spec.BreakGlassAck, obs, spec.CatchUp); err != nil { ... }
//	...
//	if err := check.History(cluster.History(), noFaults); err != nil { ... }
//
// Package scenario drives whole runs with faults and host crashes and
// applies these checks after every step.
package check
