// Command raftcluster upgrades a real hashicorp/raft cluster, running in
// this process over TCP on 127.0.0.1, with the raftshift rolling and
// blue-green strategies while a client writes continuously, and compares
// them with a naive baseline (restart nodes in ordinal order, untargeted
// step-down of a leader, no catch-up waits).
//
// # Usage
//
//	go run . -nodes 3 -strategy both -compare
//	go run . -nodes 5 -strategy rolling -timeline
//	go run . -strategy both -bad-target   # target crash-loops: rollback / abort
//	go run . -strategy rolling -ordering ondelete -leader all -runs 3
//	go run . -strategy rolling -compare -ordering ondelete -handoff -targeted=false
//
// -ordering ondelete makes the workload an OnDelete StatefulSet (the
// strategy deletes pods one at a time, the leader last); -handoff makes a
// leading node hand leadership over when its pod is deleted (OpenBao on
// SIGTERM); -targeted=false removes targeted leadership transfer (OpenBao):
// strategies step the leader down instead; -leader chooses the ordinal
// leading at the start ("all": one run per ordinal); -runs repeats every
// configuration and prints the median and range of each.
//
// For each run it prints leader changes, elections, the longest write gap,
// the longest leaderless period, acknowledged and lost writes (every
// acknowledged write is read back from the final leader's FSM) and the
// upgrade's duration. It exits non-zero when an upgrade fails or a write is
// lost.
package main
