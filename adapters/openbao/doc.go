// Package openbao connects raftshift to OpenBao's integrated (Raft) storage
// through the official client, github.com/openbao/openbao/api/v2. It is
// written against OpenBao 2.6.
//
// It does two things:
//
//   - Observe: read each member's own sys/health, then sys/leader,
//     sys/storage/raft/configuration and sys/storage/raft/autopilot/state
//     through any node that answers, and fill the Raft parts of an
//     upgrade.Observation — RaftView, every member's MemberRaft,
//     Pod.Running and Capabilities — keeping the workload part the
//     Kubernetes adapter built.
//   - Execute: carry out the Raft actions of a Decision: StepDown
//     (sys/step-down on the leader itself), JoinNonvoter (see Join modes),
//     Promote and Demote (sys/storage/raft/promote, /demote), RemovePeer
//     (sys/storage/raft/remove-peer) and TakeSnapshot
//     (sys/storage/raft/snapshot into a host-supplied writer). Membership
//     actions are idempotent: a server already in the requested state is a
//     success, so a retry after a lost reply does not fail.
//
// Actions that are not about Raft (SetPartition, DeletePod, SwitchService,
// ...) return ErrNotRaftAction so a host can route them to the Kubernetes
// adapter; Handles tells the two apart up front.
//
// # Never act on what it cannot see
//
// Read asks Adapter.Active first and, when it does not answer (the active
// pod was killed and the active Service has no endpoint), the members whose
// own sys/health says initialized and unsealed, in member order; standbys
// forward the configuration and autopilot reads to the active node. Every
// call is bounded by ReadTimeout and no node is asked twice for the same
// thing, so the number of calls is bounded and their order deterministic.
//
// Unknown is never absent (upgrade.CheckView):
//
//   - no node answered the configuration (there is no active node: standbys
//     answer HTTP 500 "local node not active but active cluster node not
//     found"): Raft.Known is false and every member's Raft is Unknown,
//     keeping its ID and Address; Read's error wraps ErrViewUnknown;
//   - autopilot unavailable (404, or 204 while it has no state after an
//     election) or not answering: every member in the configuration is
//     Unknown (no health, lag or contact is known). Nothing is derived
//     from sys/health instead: last index 0 on leader and follower alike
//     would look caught up;
//   - a configuration server with no autopilot entry (or autopilot status
//     "none"), or a follower whose last_contact autopilot did not report:
//     that member is Unknown;
//   - leaders that contradict each other (configuration against
//     autopilot): LeaderID is empty, a known leaderless view.
//
// An Unknown member still has Present, Suffrage and Leader from the
// configuration; its health and log position mean nothing.
//
// # Facts about OpenBao 2.6 that shape the adapter
//
//   - On SIGTERM, OpenBao transfers Raft leadership itself to its most
//     up-to-date follower (releasing the HA lock calls hashicorp/raft's
//     LeadershipTransfer): the cluster is without a leader for about
//     0.05 s. Deleting the leader's pod is a leadership transfer.
//   - sys/step-down releases the HA lock the same way, so it too is an
//     untargeted LeadershipTransfer: the most up-to-date voter other than
//     the leader campaigns at once and the old leader does not win (unless
//     that follower cannot take over). It leaves the cluster without a
//     leader for about 0.3 s; there is no targeted transfer API, so
//     Capabilities reports
//     TargetedTransfer=false and TransferLeadership returns ErrUnsupported.
//   - sys/health?standbyok=true answers 200 on a standby even when the
//     cluster has no leader: its code depends only on initialized, sealed
//     and standby. Readiness probes built on it mean nothing about a leader,
//     and the adapter never reads "a standby answers 200" (or standby=true)
//     as "a leader exists". A standby's sys/leader reports the last leader
//     recorded in its storage, which may be dead; only an is_self answer is
//     first-hand.
//   - The default performance_multiplier of 5 multiplies hashicorp/raft's
//     heartbeat and election timeouts: after an unannounced leader loss an
//     election takes seconds, and reads fail (the view is unknown) until it
//     is over.
//   - sys/storage/raft/promote and /demote only mark the server; autopilot
//     applies the change at its next reconcile (autopilot_reconcile_interval,
//     10 s by default: Capabilities.MembershipDelay). Re-issued, they answer
//     HTTP 500 "server is not a non-voter" / "server is already a
//     non-voter", which Execute treats as success.
//
// The test fixtures (testdata) are shaped after the 2.6 handlers:
// http/sys_health.go, http/sys_leader.go, vault/logical_system_raft.go and
// physical/raft (autopilot state, last_contact as a duration string).
//
// # Join modes
//
// Adapter.JoinMode chooses how green servers join.
//
// JoinSelf (the default, recommended): the green servers join by themselves
// as permanent non-voters, which autopilot never promotes on its own; they
// stay non-voters until the strategy promotes them. Their storage stanza
// (or the env BAO_RAFT_RETRY_JOIN_AS_NON_VOTER=true on the green pods):
//
//	storage "raft" {
//	  path = "/openbao/data"
//	  retry_join {
//	    leader_api_addr = "https://bao-0.bao-internal:8200"
//	  }
//	  retry_join {
//	    leader_api_addr = "https://bao-1.bao-internal:8200"
//	  }
//	  retry_join_as_non_voter = true
//	}
//
// JoinNonvoter then sends nothing: it verifies that the member is in the
// configuration as a non-voter, and fails with ErrNotJoined ("not joined
// yet") otherwise. Capabilities reports AutoPromotion=false.
//
// JoinAPI: JoinNonvoter posts sys/storage/raft/join with non_voter=true on
// the joining member. With a Shamir seal the join completes at unseal, and
// on that path OpenBao 2.6 drops the non_voter flag: autopilot promotes the
// server 12–14 s later, before the strategy decided anything. Capabilities
// reports AutoPromotion=true so strategies count such promotions.
//
// Members are matched to Raft servers by node ID. The OpenBao Helm chart and
// operators use the pod name as node_id, which is the default; set
// Adapter.NodeID otherwise. Raft servers that match no pod are added as
// pod-less members, so quorum arithmetic always counts every voter.
//
// A member whose own sys/health answers at all — sealed (503),
// uninitialized (501), standby (429) — runs and its API answers, which is
// enough to join: Merge sets its Pod.Running and leaves Pod.Ready (the
// readiness probe, initialized and unsealed) alone.
//
// # Errors
//
// Every failed call is a *CallError whose message is one line naming the
// operation, the member, the client used, the endpoint and the HTTP status
// with OpenBao's first error message, for example
//
//	openbao: promote bao-3 via active node (PUT https://bao-active:8200/v1/sys/storage/raft/promote): HTTP 500: local node not active but active cluster node not found
//
// The client's multi-line error text never passes through; the
// *api.ResponseError stays reachable with errors.As.
//
// # Usage
//
// Build one client for the active node (the cluster's active service) and a
// ClientFactory for per-member clients, then observe and execute:
//
//	active, _ := api.NewClient(cfg) // address: https://bao-active.bao.svc:8200
//	ad := &openbao.Adapter{
//		Active: active,
//		Clients: openbao.CloneFactory(active, func(m upgrade.Member) string {
//			return "https://" + m.Name + ".bao-internal.bao.svc:8200"
//		}),
//		Snapshots: func(ctx context.Context, s upgrade.TakeSnapshot) (io.WriteCloser, error) {
//			return os.Create("/backups/" + s.Name + ".snap")
//		},
//	}
//	obs, err := ad.Observe(ctx, k8sObs) // k8sObs from the Kubernetes adapter
//	if err != nil {
//		// obs is unknown or partial: a strategy will hold every disruptive step
//	}
//	dec, err := rolling.Step(spec, obs, status)
//	for _, a := range dec.Actions {
//		if openbao.Handles(a.Kind()) {
//			err = ad.Execute(ctx, &obs, a)
//		} else {
//			err = k8sExecutor.Execute(ctx, a)
//		}
//		if err != nil {
//			break // persist dec.Status, requeue
//		}
//	}
//
// Read and Merge are the two halves of Observe, for hosts that want to keep
// the raw State (for logs or status) or build one in tests. Merge is pure.
//
// The adapter leaves client configuration (TLS, token, retries, timeouts) to
// the host. The OpenBao client retries 5xx answers twice by default; hosts
// that want a failing call to surface quickly should lower MaxRetries.
package openbao
