// Package upgrade is the shared vocabulary of raftshift: what a host
// observes about a Raft cluster (Observation), what a strategy intends to do
// about it (Action), what a strategy returns (Decision) and persists (Status),
// and the Raft safety rules both strategies obey (CheckSafety).
//
// Everything here is pure data or pure functions. Nothing reads the clock,
// performs I/O, starts goroutines or draws random numbers: the current time
// is Observation.Now, supplied by the host.
//
// # Usage
//
// A host builds an Observation from its adapters, calls a strategy's Step
// (rolling.Step or bluegreen.Step) with the desired spec and the persisted
// Status, executes Decision.Actions in order, persists Decision.Status and
// calls Step again after Decision.RequeueAfter or on the next change.
//
//	obs := upgrade.Observation{Now: now, Members: members, Raft: raftView}
//	if err := upgrade.CheckSafety(obs, decision.Actions); err != nil {
//		// never happens for Decisions produced by raftshift's strategies;
//		// hosts that edit action lists can re-check them here.
//	}
//
// The safety rules S1–S4 of the design contract are encoded once, in
// CheckSafety, so every strategy (and every host that composes its own
// action lists) is held to the same definition.
package upgrade
