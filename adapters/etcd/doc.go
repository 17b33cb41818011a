// Package etcd connects raftshift to etcd's Raft through the official
// client, go.etcd.io/etcd/client/v3. It is written against etcd 3.7.
//
// It does two things:
//
//   - Observe: read the member list (linearizable, through the leader),
//     then Maintenance.Status of every member on its own endpoint (leader,
//     Raft term, commit and applied index, learner, errors), and fill the
//     Raft parts of an upgrade.Observation — RaftView, every member's
//     MemberRaft, Pod.Running and Capabilities — keeping the pod and
//     workload parts the host built (for example with the Kubernetes
//     adapter).
//   - Execute: carry out the Raft actions of a Decision, one call per
//     action, with the executor shape of every raftshift adapter,
//     Execute(ctx, obs, action): TransferLeadership (MoveLeader on the
//     leader's endpoint), StepDown (a transfer to the most caught-up
//     voter), JoinNonvoter (MemberAddAsLearner), Promote (MemberPromote,
//     retried while the learner is not in sync), RemovePeer (MemberRemove)
//     and TakeSnapshot (Maintenance.Snapshot into a host-supplied writer).
//     Every action is idempotent: one already in effect is a success, so a
//     retry after a lost reply neither fails nor acts twice.
//
// Actions that are not about Raft (SetPartition, DeletePod, SwitchService,
// ...) return ErrNotRaftAction so a host can route them to its workload
// adapter; Handles tells the two apart up front.
//
// # Members
//
// An etcd member is paired with a pod explicitly (Adapter.Match):
//
//   - MatchName (the default): the etcd member name (--name) is the pod
//     name, as the etcd Helm charts and operators set it. A member added
//     with MemberAddAsLearner has no name until it has started; with
//     Adapter.PeerURL set it is paired by peer URL meanwhile, otherwise it
//     shows as a pod-less member until it starts.
//   - MatchPeerURL: the pod whose Adapter.PeerURL ("http://etcd-0.etcd:2380")
//     is one of the member's peer URLs.
//
// upgrade.MemberRaft.ID is the member ID in lowercase hex, as etcdctl
// prints it; Address is the first peer URL. Actions name members by that
// ID (strategies copy it), else by pod name through the same pairing.
//
// # Never act on what it cannot see
//
// Unknown is never absent (upgrade.CheckView):
//
//   - no member answered the member list: Raft.Known is false, every member
//     is Unknown and Observe's error wraps ErrViewUnknown;
//   - a listed member whose endpoint does not answer Status (down,
//     restarting, not started yet, or answering for another member ID) is
//     Unknown — still Present, with its suffrage from the list — so the
//     view is partial and strategies take no disruptive step;
//   - the leader is only the member that itself answered as leader at the
//     highest term, with no answer at that term naming another. Followers
//     naming a leader that did not answer leave the leader unknown
//     (Raft.LeaderUnknown); every voter answering without a leader is a
//     known election. When only a serializable list answers (no leader
//     reachable) the membership may be stale and the leader is unknown.
//
// Actions read the member list linearizably before they act and fail with
// ErrViewUnknown when it does not answer.
//
// # Facts about etcd 3.7 that shape the adapter
//
//   - MoveLeader is only accepted by the leader ("etcdserver: not leader"
//     elsewhere), and the client sends it to whichever endpoint its balancer
//     picks; the adapter sends it through a client of the leader's endpoint
//     alone (Adapter.Dial, DialConfig). The leader answers once the
//     transferee leads, or fails after its request timeout.
//   - Learners are etcd's non-voters. etcd never promotes one by itself
//     (Capabilities.AutoPromotion false) and applies membership changes
//     before the call returns (no MembershipDelay). MemberPromote is
//     refused while the learner's log is below 90% of the leader's
//     ("can only promote a learner member which is in sync with leader"):
//     Promote asks again, PromoteAttempts times, PromoteInterval apart.
//   - etcd cannot demote a voter to a learner. Execute returns
//     ErrDemoteUnsupported for Demote and sends nothing. See below.
//   - With --strict-reconfig-check (the default, keep it) etcd refuses a
//     member add until the leader has been connected to its voters for 5s
//     ("etcdserver: unhealthy cluster"), and a removal that would leave
//     fewer connected voters than a quorum. The error is returned; the
//     strategy re-issues the action later.
//   - The default --max-learners is 1: a blue-green upgrade joins all green
//     members as learners before promoting any, so set it to at least the
//     green size.
//   - On a graceful stop (SIGTERM) a leading member hands leadership to the
//     longest-connected voter within its request timeout. Strategies prefer
//     a targeted MoveLeader to an upgraded, caught-up voter; set
//     Adapter.HandoffOnShutdown to let a rolling upgrade delete the
//     leader's pod last as the transfer instead.
//   - etcd reports no follower "last contact" and no stabilization time:
//     a follower that names the leader at its term is in contact (PreVote
//     and CheckQuorum, etcd's defaults, drop a leader not heard from for an
//     election timeout); stabilization windows count from the pod's own
//     start and readiness, which the host reports.
//
// The fixtures in testdata are answers of etcd 3.7.3's grpc-gateway
// recorded from a real cluster (examples/etcdcluster, TestRecordFixtures);
// DecodeMemberList and DecodeStatus read that JSON.
//
// # Blue-green on etcd: Demote is a removal
//
// The blue-green strategy demotes each blue voter (one per step, never the
// leader, each checked by upgrade.Safety) before it removes the blue
// members in cleanup. etcd has no demotion, so an etcd host executes a
// Demote as the RemovePeer DemoteAsRemove returns: the member leaves the
// voter set (and the cluster) exactly as a demotion would make it leave
// the voter set, so the quorum arithmetic Safety checked holds. The
// removed member stops by itself (etcd stops a member removed from the
// cluster); the host stops its pod. The strategy's expectation that the
// member became a non-voter is then never observed: it proceeds after
// bluegreen.Spec.RetryAfter, sees the member gone and goes on with the
// next; cleanup skips members no longer in the cluster. Keep RetryAfter
// short for etcd (1s), since nothing is applied late. The client-facing
// service must reach green members before blue members are removed (an
// etcd client service usually selects every member pod, or clients list
// every member's URL), since removed members stop serving before cleanup
// switches the strategy's service.
//
// # Errors
//
// Every failed call is a *CallError whose message is one line naming the
// member, the operation, the call and the endpoint, then etcd's error:
//
//	etcd: etcd-3: promote (Cluster.MemberPromote via cluster client): learner not in sync with the leader after 10 attempts: etcdserver: can only promote a learner member which is in sync with leader
//
// It wraps one of the sentinel errors where one applies, and etcd's own
// error (rpctypes) stays reachable with errors.Is.
//
// # Usage
//
//	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, AutoSyncInterval: 30 * time.Second}
//	cli, _ := clientv3.New(cfg)
//	ad := &etcd.Adapter{
//		Client: cli,
//		Dial:   etcd.DialConfig(cfg),
//		Snapshots: func(ctx context.Context, s upgrade.TakeSnapshot) (io.WriteCloser, error) {
//			return os.Create("/backups/" + s.Name + ".db")
//		},
//	}
//	obs, err := ad.Observe(ctx, k8sObs) // k8sObs from the Kubernetes adapter
//	if err != nil {
//		// the view is unknown: a strategy will hold every disruptive step
//	}
//	dec, err := rolling.Step(spec, obs, status)
//	// persist dec.Status first, then:
//	for _, a := range dec.Actions {
//		if d, ok := a.(upgrade.Demote); ok {
//			a = etcd.DemoteAsRemove(d)
//		}
//		if etcd.Handles(a.Kind()) {
//			err = ad.Execute(ctx, &obs, a)
//		} else {
//			err = k8sExecutor.Execute(ctx, a)
//		}
//		if err != nil {
//			break // requeue
//		}
//	}
//
// Read and Merge are the two halves of Observe, for hosts that want to keep
// the raw State (for logs or status) or build one in tests. Merge is pure.
package etcd
