// Command etcdcluster upgrades real etcd clusters — 3 or 5 members of
// go.etcd.io/etcd/server/v3/embed v3.7.3 running in this process on
// 127.0.0.1, each with its own data directory — with the raftshift rolling
// and blue-green strategies driven through the etcd adapter
// (adapters/etcd), while a client writes continuously and a reader checks
// linearizable reads, and compares them with a naive baseline that
// restarts the members in ordinal order.
//
// "Restarting a pod" closes its member and starts it again on the same data
// directory at the template's version; the version is a label, every
// member runs the same binary. Members keep StrictReconfigCheck on, and
// MaxLearners is raised to the green size for blue-green.
//
// # Usage
//
//	go run .                                  # every run kind, 3 and 5 members
//	go run . -members 5 -runs rolling-ondelete,baseline -repeat 3
//	go run . -members 3 -runs kill-leader -timeline
//	go run . -members 3 -runs rolling-ondelete,baseline -leader all -repeat 3 -json
//	go run . -observe http://127.0.0.1:2379  # a live cluster's observation, for examples/plan
//
// Run kinds: rolling-partition and rolling-ondelete (rolling.Step with
// either ordering), bluegreen (learners, promotion, MoveLeader to green,
// blue removed), baseline (restart in ordinal order) and kill-leader
// (rolling-ondelete with the leader crashed once the first member runs the
// target version).
//
// -leader N moves leadership to etcd-N (MoveLeader through the adapter)
// before the upgrade starts; -leader all runs every kind once per starting
// position. -request-timeout is the load's per-request timeout (300ms).
//
// Before a rolling upgrade starts, the run observes the cluster through
// the adapter and plans the upgrade from that observation with fake/plan
// (fake.FromObservation): the table's "predicted" column compares the
// predicted leader changes and restart order with what the real run did.
//
// It prints one table row per run: duration, leader changes, the longest
// write gap, acknowledged, failed and lost writes (every acknowledged write
// is read back afterwards), reads and linearizability violations. It exits
// non-zero when an upgrade fails, a write is lost or a read breaks
// linearizability.
package main
