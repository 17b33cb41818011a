package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// RaftUpgrade asks a host to move one Raft cluster (an OpenBao
// StatefulSet) to Spec.Version with Spec.Strategy. It is namespaced: the
// cluster's StatefulSets, pods, Service and lock Lease live in the
// RaftUpgrade's namespace. Its status is raftshift's upgrade.Status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rup,categories=raftshift
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.upgrade.phase`
// +kubebuilder:printcolumn:name="Current",type=string,JSONPath=`.status.currentVersion`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Gate",type=string,JSONPath=`.status.conditions[?(@.type=="Progressing")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RaftUpgrade struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RaftUpgradeSpec `json:"spec"`
	Status upgrade.Status  `json:"status,omitempty"`
}

// RaftUpgradeList is a list of RaftUpgrades.
//
// +kubebuilder:object:root=true
type RaftUpgradeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []RaftUpgrade `json:"items"`
}

// RaftUpgradeSpec is the desired version of a cluster and how to get there.
//
// Version, Image, StatefulSet and Service are shared by both strategies and
// always win over the same fields of the strategy-specific blocks Rolling
// and BlueGreen, which only carry the strategy's options (policy rules,
// prerequisites, timeouts, nonces...).
type RaftUpgradeSpec struct {
	// Strategy is "Rolling" (default) or "BlueGreen". A change takes effect
	// once no upgrade is in flight: the upgrade in flight is driven to its
	// end by the strategy that started it.
	Strategy upgrade.Strategy `json:"strategy,omitempty"`
	// Version is the target workload version (strict semver).
	//
	// +kubebuilder:validation:Pattern=`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`
	Version string `json:"version"`
	// Image is the target container image.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image"`
	// StatefulSet is the workload rolled (Rolling) or the base name of the
	// blue and green workloads (BlueGreen).
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	StatefulSet string `json:"statefulSet"`
	// Service is the client-facing Service (required for BlueGreen, which
	// switches it to green; optional for Rolling).
	Service string `json:"service,omitempty"`
	// Selector selects the cluster's StatefulSets by their labels (empty:
	// every StatefulSet of the namespace). It must not contain the
	// revision label (see kubernetes.Config.Selector).
	Selector map[string]string `json:"selector,omitempty"`
	// Container names the Raft server's container (empty: the only one).
	Container string `json:"container,omitempty"`
	// VersionLabel is the pod-template label carrying the version
	// (empty: the image tag is the version).
	VersionLabel string `json:"versionLabel,omitempty"`
	// Rolling holds the rolling strategy's options.
	Rolling *rolling.Spec `json:"rolling,omitempty"`
	// BlueGreen holds the blue-green strategy's options.
	BlueGreen *bluegreen.Spec `json:"blueGreen,omitempty"`
	// OpenBao says how to reach the cluster's OpenBao API.
	OpenBao OpenBaoSpec `json:"openbao,omitempty"`
}

// OpenBaoSpec locates the OpenBao API of the cluster. Empty fields take the
// operator's defaults (its flags).
type OpenBaoSpec struct {
	// Address of the active node, e.g. "https://bao-active.vault.svc:8200".
	Address string `json:"address,omitempty"`
	// MemberAddress is the address template of one member: "{name}" is
	// replaced by the pod name and "{namespace}" by the namespace, e.g.
	// "https://{name}.bao-internal.{namespace}.svc:8200".
	MemberAddress string `json:"memberAddress,omitempty"`
	// TokenSecretRef names the key of a Secret in the RaftUpgrade's
	// namespace that holds the OpenBao token.
	TokenSecretRef *corev1.SecretKeySelector `json:"tokenSecretRef,omitempty"`
	// JoinMode is how blue-green's green servers join: "Self" (default,
	// recommended: their config has retry_join and
	// retry_join_as_non_voter = true, they stay non-voters until promoted)
	// or "API" (joined through sys/storage/raft/join; autopilot then
	// promotes them on its own, reported as UnexpectedPromotion).
	//
	// +kubebuilder:validation:Enum=Self;API
	JoinMode string `json:"joinMode,omitempty"`
}

// StrategyOrDefault returns Spec.Strategy, Rolling when empty.
func (s *RaftUpgradeSpec) StrategyOrDefault() upgrade.Strategy {
	if s.Strategy == "" {
		return upgrade.StrategyRolling
	}
	return s.Strategy
}

// RollingSpec returns the rolling.Spec for this RaftUpgrade: the Rolling
// options with the shared fields applied.
func (s *RaftUpgradeSpec) RollingSpec() rolling.Spec {
	var out rolling.Spec
	if s.Rolling != nil {
		out = *s.Rolling.DeepCopy()
	}
	out.Version, out.Image, out.Workload = s.Version, s.Image, s.StatefulSet
	return out
}

// BlueGreenSpec returns the bluegreen.Spec for this RaftUpgrade: the
// BlueGreen options with the shared fields applied.
func (s *RaftUpgradeSpec) BlueGreenSpec() bluegreen.Spec {
	var out bluegreen.Spec
	if s.BlueGreen != nil {
		out = *s.BlueGreen.DeepCopy()
	}
	out.Version, out.Image, out.Workload, out.Service = s.Version, s.Image, s.StatefulSet, s.Service
	return out
}
