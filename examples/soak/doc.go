// Command soak plays random upgrade scenarios of both strategies over the
// simulated cluster, with every fault kind (pod, leader and network faults,
// observation faults, requests, host crashes at any point), across cores,
// and checks every invariant after every step (package fake/scenario). It
// prints runs per second, steps, violations, and a minimized reproduction
// of the first violation with the command that replays it.
//
// # Usage
//
//	go run ./examples/soak -runs 1000000 -workers 2
//	go run ./examples/soak -runs 1 -seed 3593 -v   # replay one scenario
package main
