// Package fake is a deterministic simulated Raft cluster for testing upgrade
// strategies: StatefulSet-like workloads with OrderedReady rolling updates
// and partitions, pods with start-up times and crash loops, a Raft model with
// terms, elections (with the election restriction), leadership transfer,
// leader leases, log replication and lag, autopilot-like health, and faults
// (killed pods, network partitions, slow followers, stale observations, bad
// versions, failing hooks).
//
// A Cluster applies upgrade.Action values, advances simulated time in ticks
// and reports upgrade.Observation values, so a strategy can be driven exactly
// as a host would drive it. Every tick appends a Record to the history, which
// CheckHistory checks against Raft's invariants (terms never go back, at most
// one leader per term) and Summarize turns into availability metrics.
//
// Everything is deterministic: randomness (election timeouts and ties) comes
// from a math/rand/v2 PCG seeded with Config.Seed, time is simulated, there
// are no goroutines and no map-order dependence. The same seed and the same
// calls give identical observations and histories.
//
// # Testing your own host
//
// Three packages build on the simulator to test code around the
// strategies: fake/check holds the safety invariants S1–S7 as functions,
// written independently of upgrade.Safety; fake/scenario plays whole runs
// with faults, requests and host crashes and checks every invariant after
// every Step; fake/proptest draws such runs with rapid for any Step-shaped
// function (see scenario.Wrap) and shrinks failures to a short schedule.
//
// # Usage
//
//	c := fake.New(fake.Config{Seed: 1, Replicas: 3, TargetedTransfer: true})
//	for c.TickCount() < 600 {
//		obs := c.Observe()
//		d, err := strategy.Step(spec, obs, status)
//		if err != nil { ... }
//		if _, err := c.Apply(d.Actions); err != nil { ... } // wraps ErrPrecondition or ErrRejected
//		status = d.Status
//		c.Tick()
//	}
//	if err := fake.CheckHistory(c.History()); err != nil { ... }
//	m := fake.Summarize(c.History()) // leader changes, leaderless ticks, ...
//
// Faults are injected between ticks: KillPod, KillLeader, Isolate/Heal,
// SlowCatchUp, StaleNext, SetBadVersion, SetHookFailure, FailNextHandoff,
// FailNextLeaderMove (a step-down or transfer that times out, the old
// leader still leading); HealAll ends the ongoing ones.
//
// Observations lie or are incomplete as real adapters' are, and every such
// fault a real system showed is modelled (FaultNextObservation): an unknown
// Raft view (the adapter's read failed), a member's stats missing,
// autopilot missing, the leader unknown, a last contact absent, and a stale
// informer cache (Kubernetes objects from earlier ticks with a live Raft
// view). Readiness lies by default (Config.Readiness: pods stay Ready with
// no leader, as OpenBao's standbyok health check does; ReadyWhenMember
// makes a pod Ready only once it is in the configuration, Running before).
// Config.AutopilotQuirks makes StableSince behave as OpenBao autopilot's
// stable_since (it misses restarts and is reset by every new leader).
// Config.AutoPromoteTicks promotes non-voters joined through JoinNonvoter
// on their own, as autopilot does; Config.MembershipDelayTicks applies
// Promote and Demote only at the next autopilot reconcile. Join, promote,
// demote and remove are idempotent: a member already in the requested state
// is success, as adapters report a retry after a lost reply.
//
// # Model
//
// Pods are "<workload>-<ordinal>" with Raft ID equal to the pod name and
// address "<pod>.<workload>:8201". A deleted or killed pod is absent for one
// tick, then recreated (new UID) at the update revision if its ordinal is at
// least the partition, else at the current revision; it becomes Ready
// Config.PodStartTicks ticks later unless its version is bad (then it
// crash-loops). Each tick, a workload whose pods are all Ready deletes the
// highest-ordinal pod at or above the partition that is not at the update
// revision. Revision names are "<workload>-" followed by eight hex digits of
// FNV-1a over image + "|" + version.
//
// Without a leader, an election completes after a random number of ticks in
// Config.ElectionTimeout, among the up, reachable voters and only if they are
// a quorum of the voter set; the voter with the most up-to-date log (last
// term, then last index) wins, ties broken by the seeded generator. Each new
// leader appends a no-op entry in its term. While writable the leader appends
// Config.WriteRate entries per tick; reachable followers replicate up to
// Config.ReplicationRate entries per tick (after dropping any conflicting
// suffix). A member is healthy when its process runs, it is reachable and in
// the configuration, and it is the leader or heard from within 10s and
// trails by at most 1000 entries; StableSince is when it last turned
// healthy.
//
// Elections ignore versions, as Raft does: during a rolling upgrade an old
// member wins whenever its log is as up-to-date as an upgraded one's (ties
// broken by the seed), for instance after KillLeader or an isolated leader,
// and a StepDown hands leadership to any of the most up-to-date voters but
// the leader (OpenBao's sys/step-down is hashicorp/raft's untargeted
// LeadershipTransfer; the model breaks ties by the seed where hashicorp/raft
// takes configuration order), or, when that voter cannot take over by the
// election, lets any up-to-date voter win, the old leader included.
// Nothing in the model prevents a failback to an older version once a newer one has led; S8
// (check.Failback) holds the strategy to never cause one itself and to
// report (and, where it safely can, correct) the ones elections cause.
//
// Leadership: StepDown, Demote or RemovePeer of the leader, a dead leader pod
// or a transfer to a member that cannot take over (a non-voter, a down or
// isolated member) leave the cluster leaderless until an election. A
// TransferLeadership to an up, reachable voter completes on the next tick
// (new term, no leaderless tick) once the target has the leader's whole log;
// client writes pause meanwhile, and a transfer not completed within
// ElectionTimeout[1] ticks is abandoned with the old leader still leading.
// TransferLeadership is rejected unless Config.TargetedTransfer is set.
//
// Membership changes apply immediately (Promote and Demote after
// MembershipDelayTicks) and need a leader (and no transfer in progress).
// As in Raft implementations (hashicorp/raft, etcd), the voter set changes
// one server at a time and each change is a log entry: a Promote, Demote
// or RemovePeer of a voter (or an autopilot promotion) requested while the
// last change is not yet committed under the configuration it made is
// queued and applied once it is, so a quorum of every configuration holds
// every committed entry. Shrinking the voter set around lagging members
// therefore stalls the commit index until they catch up, as in Raft, and
// never elects a leader without committed entries. The model checks this:
// an election that would discard committed entries is reported as
// Record.LostCommitted (an invariant of the model, not a strategy rule;
// Metrics.LostCommitted stays 0).
//
// Errors: every refused action or fault wraps ErrPrecondition (the target is
// missing, not the leader, has another UID, ...) or ErrRejected (no leader,
// lock held by another holder, missing capability) and has no effect.
//
// Observations: members are sorted by workload then ordinal and include
// Raft members whose workload was deleted while they are still in the
// configuration; a member whose pod is absent has Pod.Exists false and empty
// Revision, Version and Image. Raft.Term is reported even when no leader is
// known.
package fake
