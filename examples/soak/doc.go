// Command soak plays random upgrade scenarios of both strategies over the
// simulated cluster, with every fault kind (pod, leader and network faults,
// leadership moves that fail, observation faults, requests, host crashes at
// any point), across cores, and checks every invariant after every step
// (package fake/scenario). It
// prints runs per second, steps, violations, and a minimized reproduction
// of the first violation with the command that replays it.
//
// The per-Step contract checks (the same inputs decide the same, a status
// that went through JSON decides the same, a waiting Step is a fixed point)
// call Step three more times and encode the status to JSON, which makes a
// run about five times slower: -contract N checks them in one run in N
// (the runs whose seed is a multiple of N; default 10), -contract 1 in
// every run. Every other invariant is checked in every run. The garbage
// collector runs at GOGC=1000 unless GOGC is set: the runs allocate small,
// short-lived simulations.
//
// # Usage
//
//	go run ./examples/soak -runs 1000000 -workers 2
//	go run ./examples/soak -runs 1 -seed 3593 -contract 1 -v   # replay one scenario
//	go run ./examples/soak -runs 20000 -cpuprofile soak.prof   # profile the simulator
package main
