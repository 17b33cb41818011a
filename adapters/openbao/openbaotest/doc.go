// Package openbaotest is test infrastructure, in the spirit of
// net/http/httptest: an emulator of the OpenBao 2.6 HTTP API over a
// simulated Raft cluster (fake.Cluster), so that the OpenBao adapter's real
// code — its api/v2 client calls, decoding, error handling and merge — can
// drive an upgrade strategy end to end without a real OpenBao. It is not
// used by the adapter itself and holds no production logic.
//
// An Emulator runs one httptest.Server per member (started on first use)
// and one for the active node, which answers as whichever member leads.
// Answers are derived from the cluster at the time of the call:
//
//   - GET /v1/sys/health on a member: 200 active, 429 standby, 501 for a
//     server never in the Raft configuration (uninitialized: a green server
//     that has not joined), 503 sealed (Seal); each code overridable by the
//     query parameters OpenBao honours (activecode, standbycode,
//     uninitcode, sealedcode, standbyok). A member whose pod does not
//     exist or whose process does not run resets the connection: the client
//     reports a transport error, no HTTP status. The active endpoint does
//     the same while the cluster has no leader (its Service has no
//     endpoint).
//   - GET /v1/sys/leader: is_self on the leader; a standby names the
//     current leader or, with none, the last leader it knew.
//   - GET /v1/sys/storage/raft/configuration and .../autopilot/state, in
//     the exact shapes the adapter decodes, from fake.Cluster.Truth: the
//     leader answers; a standby in the configuration forwards while a
//     leader exists and otherwise fails with HTTP 500 "local node not
//     active but active cluster node not found" (MsgNoActive).
//   - POST /v1/sys/storage/raft/join on the joining member, PUT (or POST)
//     .../promote, .../demote, .../remove-peer and /v1/sys/step-down:
//     fake.Cluster.Apply of JoinNonvoter, Promote, Demote, RemovePeer and
//     StepDown, with OpenBao's answers, such as HTTP 500 "server is already
//     a non-voter" for a demote re-issued (MsgAlreadyNonVoter) and "server
//     is not a non-voter" for a promote re-issued (MsgNotNonVoter).
//   - Any other path: HTTP 404 "unsupported path" (snapshots are not
//     emulated).
//
// Sealed and uninitialized servers answer every call but sys/health with
// HTTP 503 "Vault is sealed".
//
// # Joining
//
// With Options.SelfJoin, a server that was never in the configuration
// joins by itself as a permanent non-voter (OpenBao's retry_join with
// retry_join_as_non_voter = true) Options.SelfJoinDelay ticks after its
// process starts, applied from Tick. Servers that join through the join
// API are not marked permanent non-voters (OpenBao 2.6 drops the non_voter
// flag when a Shamir-sealed server joins), so the cluster's autopilot,
// fake.Config.AutoPromoteTicks, promotes them once stable.
//
// The emulator keeps OpenBao's permanent non-voter marks: promote clears
// one, demote sets one, and sys/storage/raft/autopilot/state reports them
// as node_type "non-voter". Promote and demote are applied at the cluster's
// next autopilot reconcile (fake.Config.MembershipDelayTicks), one change of
// the voter set at a time, each once the last one is committed.
// Self-joined servers are permanent non-voters in the cluster too
// (fake.Cluster.SelfJoin): its autopilot (AutoPromoteTicks) never promotes
// them, as OpenBao's never does.
//
// # Determinism and concurrency
//
// Nothing depends on the wall clock or on randomness: times come from the
// cluster (server_time_utc, active_time), request IDs are counted and
// every answer is a function of the cluster's state and of the calls made
// so far. fake.Cluster is not safe for concurrent use, so the Emulator
// guards it with one lock that every HTTP handler and every method takes;
// once the emulator exists, use the cluster only through it (Tick, Apply,
// Observe, Truth, History, Do).
//
// # Usage
//
//	c := fake.New(fake.Config{Seed: 1, Readiness: fake.ReadyWhenMember, MembershipDelayTicks: 10})
//	em := openbaotest.New(c, openbaotest.Options{SelfJoin: true})
//	defer em.Close()
//	active, _ := em.ActiveClient()
//	ad := &openbao.Adapter{Active: active, Clients: em.Client}
//	for em.TickCount() < 600 {
//		obs, _ := ad.Observe(ctx, em.KubernetesObservation())
//		d, err := bluegreen.Step(spec, obs, status)
//		...
//		status = d.Status
//		for _, a := range d.Actions {
//			if openbao.Handles(a.Kind()) {
//				err = ad.Execute(ctx, &obs, a) // through the emulated API
//			} else {
//				_, err = em.Apply([]upgrade.Action{a}) // the Kubernetes part
//			}
//			if err != nil {
//				break
//			}
//		}
//		em.Tick()
//	}
package openbaotest
