// Package openbao connects raftshift to OpenBao's integrated (Raft) storage
// through the official client, github.com/openbao/openbao/api/v2.
//
// It does two things:
//
//   - Observe: read sys/leader, sys/storage/raft/configuration and
//     sys/storage/raft/autopilot/state from the active node (and, with
//     per-member clients, each member's sys/health) and fill the Raft parts of
//     an upgrade.Observation — RaftView, every member's MemberRaft and
//     Capabilities — keeping the workload part the Kubernetes adapter built.
//   - Execute: carry out the Raft actions of a Decision: StepDown
//     (sys/step-down on the leader itself), JoinNonvoter (sys/storage/raft/join
//     with non_voter=true on the joining member), Promote and Demote
//     (sys/storage/raft/promote, /demote), RemovePeer
//     (sys/storage/raft/remove-peer) and TakeSnapshot
//     (sys/storage/raft/snapshot into a host-supplied writer).
//
// OpenBao has no targeted leadership transfer, so Capabilities reports
// TargetedTransfer=false and TransferLeadership returns ErrUnsupported;
// strategies then use StepDown. Servers older than the promote/demote
// endpoints answer 404, which Execute reports as ErrUnsupported. Actions
// that are not about Raft (SetPartition, DeletePod, SwitchService, ...)
// return ErrNotRaftAction so a host can route them to the Kubernetes
// adapter; Handles tells the two apart up front.
//
// Members are matched to Raft servers by node ID. The OpenBao Helm chart and
// operators use the pod name as node_id, which is the default; set
// Adapter.NodeID otherwise. The Raft configuration is authoritative for
// membership, suffrage and leadership; autopilot supplies health, log
// indexes, last contact (sent by OpenBao as a duration string such as
// "1.5s") and stable_since. When autopilot is unavailable (404, or no
// state yet after an election) a member is healthy only if its own
// sys/health says initialized and unsealed, and the failure tolerance is
// computed from those verdicts; without either source nothing is healthy,
// so strategies refuse every disruptive step. Raft servers that match no
// pod are added as pod-less members, so quorum arithmetic always counts
// every voter.
//
// Every failed call is a *CallError naming the operation, the member, the
// client used and the HTTP call, for example
//
//	openbao: step-down on bao-0 (PUT /v1/sys/step-down): ...
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
//		// obs.Raft.Known is false: a strategy will hold every disruptive step
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
