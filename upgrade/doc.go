// Package upgrade is the shared vocabulary of raftshift: what a host
// observes about a Raft cluster (Observation), what a strategy intends to do
// about it (Action), what a strategy returns (Decision) and persists (Status),
// and the Raft safety rules both strategies obey (Safety.Check).
//
// Everything here is pure data or pure functions. Nothing reads the clock,
// performs I/O, starts goroutines or draws random numbers: the current time
// is Observation.Now, supplied by the host.
//
// # Usage
//
// A host builds an Observation from its adapters and calls a strategy's Step
// (rolling.Step or bluegreen.Step) with the desired spec and the persisted
// Status. Every host follows one protocol, whatever the strategy:
//
//  1. Persist Decision.Status, with optimistic concurrency where the store
//     has it (a Kubernetes status update carrying the resourceVersion the
//     decision was computed from). A failed or conflicting write executes
//     nothing: observe and decide again.
//  2. Execute Decision.Actions in order and stop at the first failure.
//  3. Emit Decision.Events best-effort; a failed event write never holds
//     back an action or fails the reconcile.
//  4. Call Step again after Decision.RequeueAfter or on the next change.
//
// A host may crash between any two of these steps, or between two actions:
// Step accepts any status it produced with any prefix of its actions
// executed and converges from a fresh observation.
//
//	obs := upgrade.Observation{Now: now, Members: members, Raft: raftView}
//	if err := (upgrade.Safety{}).Check(obs, decision.Actions); err != nil {
//		// never happens for Decisions produced by raftshift's strategies;
//		// hosts that edit action lists can re-check them here.
//	}
//
// The safety rules S1–S4 of the design contract are encoded once, in
// Safety.Check, so every strategy (and every host that composes its own
// action lists) is held to the same definition.
//
// +kubebuilder:object:generate=true
package upgrade

//go:generate go tool controller-gen object paths=.
