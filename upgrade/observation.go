package upgrade

import (
	"cmp"
	"slices"
	"time"
)

// Observation is everything a strategy may know about the cluster at one
// instant. Hosts build it from adapters (Kubernetes, OpenBao, a simulator);
// strategies never mutate it.
//
// +kubebuilder:object:generate=false
type Observation struct {
	// Now is the host's clock at observation time. It is the only time source
	// of the pure core; a zero Now is invalid input.
	Now time.Time `json:"now"`
	// Generation is the generation of the object that holds the spec (a
	// custom resource's metadata.generation); conditions record it as their
	// ObservedGeneration. Zero when the host has none.
	Generation int64 `json:"generation,omitempty"`
	// Workloads are the StatefulSet-like controllers of the cluster, sorted by
	// name. Rolling upgrades drive one; blue-green drives two (blue and green).
	Workloads []Workload `json:"workloads,omitempty"`
	// Service is the client-facing service whose selector picks a workload.
	Service Service `json:"service"`
	// Members are the pods / Raft servers, sorted by workload then ordinal.
	Members []Member `json:"members,omitempty"`
	// Raft is the cluster-wide Raft view.
	Raft RaftView `json:"raft"`
	// Backup describes backup / snapshot readiness.
	Backup BackupView `json:"backup"`
	// Lock is the cluster-wide operation lock (at most one operation —
	// upgrade, backup, restore — runs at a time).
	Lock LockView `json:"lock"`
	// Capabilities are what the host's adapters can do.
	Capabilities Capabilities `json:"capabilities"`
	// Hooks reports the runs of validation hooks requested by RunHook.
	Hooks []HookStatus `json:"hooks,omitempty"`
}

// HookStatus is the host's report of one RunHook execution.
type HookStatus struct {
	// Hook, Phase and Attempt identify the RunHook action.
	Hook    string `json:"hook"`
	Phase   string `json:"phase"`
	Attempt int32  `json:"attempt"`
	// Done is true once the hook finished.
	Done bool `json:"done"`
	// Succeeded is the hook's verdict (meaningful when Done).
	Succeeded bool `json:"succeeded"`
	// Message is the hook's output, for conditions and events.
	Message string `json:"message,omitempty"`
}

// Hook returns the report for a hook run, if the host has one.
func (o *Observation) Hook(hook, phase string, attempt int32) (HookStatus, bool) {
	for _, h := range o.Hooks {
		if h.Hook == hook && h.Phase == phase && h.Attempt == attempt {
			return h, true
		}
	}
	return HookStatus{}, false
}

// Workload is the observed state of one StatefulSet-like controller.
type Workload struct {
	// Name identifies the workload (the StatefulSet name).
	Name string `json:"name"`
	// UID identifies this incarnation of the workload (metadata.uid): a
	// workload deleted and created again under the same name has another
	// UID, and its generation starts again. Hosts that may recreate
	// workloads should report it; empty means unknown.
	UID string `json:"uid,omitempty"`
	// UpdateStrategy is how the workload's controller replaces pods after a
	// template change: RollingUpdate (the controller restarts pods at or
	// above Partition on its own) or OnDelete (only pods something deletes
	// are recreated at the new template; also what a host without a
	// controller behaves like). Empty when the host does not say (no
	// controller, a harness): the rolling strategy's Ordering then decides,
	// Partition by default.
	UpdateStrategy UpdateStrategy `json:"updateStrategy,omitempty"`
	// Replicas is the desired number of pods.
	Replicas int32 `json:"replicas"`
	// Partition is the RollingUpdate partition: pods with an ordinal >= Partition
	// are moved to UpdateRevision by the controller, others are left alone.
	Partition int32 `json:"partition"`
	// CurrentRevision is the revision of pods not yet updated.
	CurrentRevision string `json:"currentRevision,omitempty"`
	// UpdateRevision is the revision of the current pod template.
	UpdateRevision string `json:"updateRevision,omitempty"`
	// Generation is the workload object's generation.
	Generation int64 `json:"generation,omitempty"`
	// ObservedGeneration is the generation the controller has acted on. A
	// value below Generation means the controller has not caught up yet.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Image is the container image of the current pod template.
	Image string `json:"image,omitempty"`
	// Version is the workload version declared by the current pod template.
	Version string `json:"version,omitempty"`
	// ReadyReplicas counts ready pods.
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// UpdatedReplicas counts pods at UpdateRevision.
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
}

// UpdateStrategy is a workload controller's update strategy.
type UpdateStrategy string

// Update strategies (mirroring Kubernetes' StatefulSet update strategies).
const (
	UpdateRollingUpdate UpdateStrategy = "RollingUpdate"
	UpdateOnDelete      UpdateStrategy = "OnDelete"
)

// Settled reports whether the controller has observed the latest generation.
func (w Workload) Settled() bool { return w.ObservedGeneration >= w.Generation }

// Service is the observed client-facing service.
type Service struct {
	// Name of the service.
	Name string `json:"name,omitempty"`
	// Selector is the service's label selector.
	Selector map[string]string `json:"selector,omitempty"`
	// Workload is the workload the selector currently targets, as resolved by
	// the adapter ("" when it targets none or several).
	Workload string `json:"workload,omitempty"`
}

// PodPhase is a pod's lifecycle phase (mirrors Kubernetes' PodPhase).
type PodPhase string

// Pod phases.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
	PodUnknown   PodPhase = "Unknown"
)

// Suffrage is a Raft server's voting right.
type Suffrage string

// Suffrage values.
const (
	Voter    Suffrage = "Voter"
	Nonvoter Suffrage = "Nonvoter"
)

// Member is one pod and the Raft server running in it.
//
// +kubebuilder:object:generate=false
type Member struct {
	// Name is the pod name; unique across the observation.
	Name string `json:"name"`
	// Workload names the workload that owns the pod.
	Workload string `json:"workload,omitempty"`
	// Ordinal is the pod's StatefulSet ordinal.
	Ordinal int32 `json:"ordinal"`
	// Revision is the controller revision the pod was created from.
	Revision string `json:"revision,omitempty"`
	// Version is the workload version the pod is running.
	Version string `json:"version,omitempty"`
	// Image is the container image the pod is running.
	Image string `json:"image,omitempty"`
	// Pod is the pod's lifecycle state.
	Pod PodStatus `json:"pod"`
	// Raft is the member's Raft state.
	Raft MemberRaft `json:"raft"`
}

// PodStatus is the lifecycle state of a member's pod.
//
// +kubebuilder:object:generate=false
type PodStatus struct {
	// Exists is false while the pod object is absent (deleted, not recreated).
	Exists bool `json:"exists"`
	// UID identifies this incarnation of the pod; it changes on recreation.
	UID string `json:"uid,omitempty"`
	// Phase is the pod phase.
	Phase PodPhase `json:"phase,omitempty"`
	// Running is true when the pod's containers run and its workload's API
	// answers, even if it does not serve yet: enough to join a Raft
	// cluster. Ready is the readiness probe, which for some workloads
	// (OpenBao: initialized and unsealed) needs Raft membership first. A
	// Ready pod is running whatever this field says.
	Running bool `json:"running,omitempty"`
	// Ready is the pod's Ready condition.
	Ready bool `json:"ready"`
	// Terminating is true once deletion has started.
	Terminating bool `json:"terminating,omitempty"`
	// CrashLooping is true when the container keeps failing (CrashLoopBackOff,
	// image pull failure and similar states that will not fix themselves).
	CrashLooping bool `json:"crashLooping,omitempty"`
	// Restarts counts container restarts of this incarnation.
	Restarts int32 `json:"restarts,omitempty"`
	// StartedAt is when this incarnation started (for a container that
	// restarted inside the pod, when the running container started).
	StartedAt time.Time `json:"startedAt,omitempty"`
	// ReadySince is when the pod last became Ready (the Ready condition's
	// last transition), zero when not ready or unknown.
	ReadySince time.Time `json:"readySince,omitempty"`
}

// MemberRaft is a member's Raft state as seen by the leader / autopilot.
//
// Unknown is not absent: when an adapter could not read a member's Raft
// state (its stats are missing from autopilot, its last contact was not
// reported, autopilot did not answer), it sets Unknown and the member's
// other fields mean nothing. Strategies and Safety then refuse every
// disruptive action, as they do when RaftView.Known is false.
//
// +kubebuilder:object:generate=false
type MemberRaft struct {
	// Unknown is true when the adapter could not read this member's Raft
	// state: the view is partial (see CheckView).
	Unknown bool `json:"unknown,omitempty"`
	// ID is the Raft server ID.
	ID string `json:"id,omitempty"`
	// Address is the Raft server address.
	Address string `json:"address,omitempty"`
	// Present is true when the server is in the Raft configuration.
	Present bool `json:"present"`
	// Suffrage is Voter or Nonvoter (meaningful when Present).
	Suffrage Suffrage `json:"suffrage,omitempty"`
	// Leader is true when the server currently leads.
	Leader bool `json:"leader,omitempty"`
	// Healthy is the autopilot (or equivalent) health verdict.
	Healthy bool `json:"healthy"`
	// LastIndex is the server's last log index.
	LastIndex uint64 `json:"lastIndex,omitempty"`
	// LastTerm is the term of the server's last log entry.
	LastTerm uint64 `json:"lastTerm,omitempty"`
	// LastContact is the time since the leader last heard from the server.
	LastContact time.Duration `json:"lastContact,omitempty"`
	// StableSince is when the server last became healthy, as autopilot
	// reports it. It is a cluster timestamp: autopilot misses restarts
	// shorter than its poll (the value then predates the restart) and resets
	// it for every server when a new leader is elected. Stabilization
	// windows therefore count from the pod's own start and readiness (see
	// CaughtUp and CaughtUpAfterRestart).
	StableSince time.Time `json:"stableSince,omitempty"`
}

// IsVoter reports whether the member is a voter in the Raft configuration.
func (m Member) IsVoter() bool { return m.Raft.Present && m.Raft.Suffrage == Voter }

// IsNonvoter reports whether the member is a non-voter in the configuration.
func (m Member) IsNonvoter() bool { return m.Raft.Present && m.Raft.Suffrage == Nonvoter }

// Up reports whether the member's pod and Raft server are serving: the pod
// exists, is ready, not terminating, not crash-looping, and Raft reports the
// server healthy.
func (m Member) Up() bool {
	return m.Pod.Exists && m.Pod.Ready && !m.Pod.Terminating && !m.Pod.CrashLooping && m.Raft.Healthy
}

// RaftView is the cluster-wide Raft state.
type RaftView struct {
	// Known is false when no Raft view could be obtained (the adapter's read
	// failed, no leader reachable). An unknown view is never an empty
	// cluster: it allows no disruptive action at all (see CheckView).
	Known bool `json:"known"`
	// LeaderID is the Raft ID of the current leader ("" when none).
	LeaderID string `json:"leaderId,omitempty"`
	// LeaderUnknown is true when the adapter could not tell who leads
	// (contradictory or missing answers) although a leader may exist: not
	// the same as a cluster without a leader. The view is then partial.
	LeaderUnknown bool `json:"leaderUnknown,omitempty"`
	// Term is the current Raft term.
	Term uint64 `json:"term,omitempty"`
	// CommitIndex is the leader's commit index.
	CommitIndex uint64 `json:"commitIndex,omitempty"`
	// FailureTolerance is autopilot's failure tolerance (voters that may fail
	// without losing quorum).
	FailureTolerance int32 `json:"failureTolerance"`
	// AutopilotHealthy is autopilot's overall health verdict.
	AutopilotHealthy bool `json:"autopilotHealthy"`
}

// BackupView describes backup readiness.
//
// +kubebuilder:object:generate=false
type BackupView struct {
	// Configured is true when backups are set up for the cluster.
	Configured bool `json:"configured"`
	// LastSuccess is when the last backup or snapshot succeeded.
	LastSuccess time.Time `json:"lastSuccess,omitempty"`
	// InProgress is true while a backup or snapshot is running.
	InProgress bool `json:"inProgress,omitempty"`
}

// LockView is the operation lock.
//
// +kubebuilder:object:generate=false
type LockView struct {
	// Holder identifies the operation holding the lock ("" when free).
	Holder string `json:"holder,omitempty"`
	// Since is when the holder acquired it.
	Since time.Time `json:"since,omitempty"`
}

// Capabilities are what the host's adapters can do.
type Capabilities struct {
	// TargetedTransfer is true when leadership can be moved to a chosen
	// server (hashicorp/raft LeadershipTransferToServer). When false only an
	// untargeted step-down is available (OpenBao).
	TargetedTransfer bool `json:"targetedTransfer,omitempty"`
	// NonVoters is true when servers can join as non-voters.
	NonVoters bool `json:"nonVoters,omitempty"`
	// Snapshots is true when the host can take Raft snapshots.
	Snapshots bool `json:"snapshots,omitempty"`
	// HandoffOnShutdown is true when the workload hands Raft leadership to
	// its most up-to-date follower by itself on graceful shutdown (OpenBao
	// does on SIGTERM). Deleting the leader's pod is then itself the
	// leadership transfer: allowed only for the last pod of an upgrade, with
	// every other voter upgraded, caught up and stable and failure
	// tolerance of at least one (S3).
	HandoffOnShutdown bool `json:"handoffOnShutdown,omitempty"`
	// AutoPromotion is true when the workload may promote a joined
	// non-voter to voter on its own (OpenBao's autopilot does for servers
	// joined through the join API). Strategies then treat every promotion
	// they did not request as a fact to report and to count for safety.
	AutoPromotion bool `json:"autoPromotion,omitempty"`
	// MembershipDelay is how long a requested suffrage change (promote,
	// demote) may take to show in the observation: OpenBao's autopilot only
	// marks the server and applies the change at its next reconcile (every
	// 10 s by default). Strategies wait at least this long for the change
	// before re-issuing it, and a re-issue is not a failure.
	MembershipDelay time.Duration `json:"membershipDelay,omitempty"`
}

// Joinable reports whether the member's pod runs well enough to join a
// Raft cluster: it exists, is not terminating or crash-looping, and is
// Running or Ready.
func (m Member) Joinable() bool {
	return m.Pod.Exists && !m.Pod.Terminating && !m.Pod.CrashLooping && (m.Pod.Running || m.Pod.Ready)
}

// Member returns the member with the given name.
func (o *Observation) Member(name string) (Member, bool) {
	for _, m := range o.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// Workload returns the workload with the given name.
func (o *Observation) Workload(name string) (Workload, bool) {
	for _, w := range o.Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// Leader returns the member currently leading. Raft.LeaderID is
// authoritative; without it, a single member flagged Leader is used.
func (o *Observation) Leader() (Member, bool) {
	if o.Raft.LeaderID != "" {
		for _, m := range o.Members {
			if m.Raft.ID == o.Raft.LeaderID {
				return m, true
			}
		}
		return Member{}, false
	}
	var found Member
	n := 0
	for _, m := range o.Members {
		if m.Raft.Leader {
			found = m
			n++
		}
	}
	if n != 1 {
		return Member{}, false
	}
	return found, true
}

// IsLeader reports whether the named member is the current leader.
func (o *Observation) IsLeader(name string) bool {
	l, ok := o.Leader()
	return ok && l.Name == name
}

// Voters returns the voting members, in observation order.
func (o *Observation) Voters() []Member {
	out := make([]Member, 0, len(o.Members))
	for _, m := range o.Members {
		if m.IsVoter() {
			out = append(out, m)
		}
	}
	return out
}

// WorkloadMembers returns the members owned by a workload, by ordinal.
func (o *Observation) WorkloadMembers(workload string) []Member {
	n := 0
	for i := range o.Members {
		if o.Members[i].Workload == workload {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Member, 0, n)
	for i := range o.Members {
		if o.Members[i].Workload == workload {
			out = append(out, o.Members[i])
		}
	}
	byOrdinal := func(a, b Member) int { return cmp.Compare(a.Ordinal, b.Ordinal) }
	if !slices.IsSortedFunc(out, byOrdinal) { // hosts usually list members in order
		slices.SortFunc(out, byOrdinal)
	}
	return out
}

// DeepCopy returns a copy of o sharing no memory with it. Observation is a
// host's input, never part of an API object, and holds time.Time values,
// which controller-gen cannot copy: its copy is written by hand (the
// reflective TestObservationDeepCopy guards it against new fields), and
// the parts without time values use the generated copies.
func (o *Observation) DeepCopy() *Observation {
	if o == nil {
		return nil
	}
	c := *o
	c.Workloads = slices.Clone(o.Workloads)
	c.Members = slices.Clone(o.Members) // Member holds values only
	o.Service.DeepCopyInto(&c.Service)
	c.Hooks = slices.Clone(o.Hooks)
	return &c
}
