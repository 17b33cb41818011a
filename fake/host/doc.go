// Package host is a minimal reconcile loop that drives a strategy's Step
// against a simulated cluster from package fake with the host protocol of
// package upgrade: observe, Step, persist the status, execute the actions in
// order, emit the events, advance simulated time. Tests,
// benchmarks and examples/simulate share it, and it shows in a few lines
// what a real host (a Kubernetes operator) does with a Decision.
//
// # Usage
//
//	c := fake.New(fake.Config{Seed: 1, Replicas: 3, Version: "2.3.0"})
//	h := host.New(c, func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
//		return rolling.Step(spec, obs, st)
//	}, upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
//	h.RoundTrip = true // persist status as JSON between steps, like a CRD
//	ticks, err := h.RunUntilIdle(600)
//
// Restart emulates a host crash: only the persisted (JSON) status survives.
package host
