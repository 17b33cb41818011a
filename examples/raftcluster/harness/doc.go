// Package harness upgrades a real hashicorp/raft cluster with the raftshift
// strategies and measures what clients see.
//
// Adapter runs N raftnode nodes in one process, one per emulated pod, and
// maps them to the raftshift vocabulary: Observe builds an
// upgrade.Observation (pod state from the node processes, Raft state from
// each node's Stats, LastIndex and configuration, health and StableSince
// tracked by the adapter), Execute carries out upgrade.Actions against the
// cluster (leadership transfers, membership changes, pod deletion, workload
// bookkeeping), and a small StatefulSet controller loop emulates the two
// update strategies. RollingUpdate (the default): when the partition drops
// below an outdated ordinal, the highest such pod is restarted at the
// template version with the same data directory, one at a time, once every
// pod is ready. OnDelete: the controller restarts nothing by itself; a
// deleted pod (DeletePod) comes back at the template version with the same
// data directory.
//
// Options emulate what OpenBao does and lacks: HandoffOnShutdown (a leading
// node whose pod is deleted calls LeadershipTransfer before Shutdown, as
// OpenBao does on SIGTERM; observations report
// Capabilities.HandoffOnShutdown) and NoTargetedTransfer (no
// LeadershipTransferToServer; StepDown is an untargeted LeadershipTransfer,
// which is what OpenBao's sys/step-down ends with). Options.Leader chooses
// the member leading when the cluster starts.
//
// Run starts a fresh cluster, writes continuously through a
// raftnode.Writer, drives rolling.Step or bluegreen.Step every 100ms with a
// fresh observation (or runs the naive Baseline), and verifies every
// acknowledged write against the final leader's FSM. The Report gives
// leader changes, elections, the longest write gap and leaderless period,
// writes acknowledged and lost, and the duration.
//
// # Usage
//
//	rep, err := harness.Run(ctx, harness.Scenario{
//		Strategy: harness.Rolling, Nodes: 5, Dir: dir,
//	})
//	if err != nil { ... }
//	fmt.Println(rep.Summary()) // writesLost must be 0
package harness
