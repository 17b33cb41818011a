package main

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// GroupVersion is the API group and version of RaftUpgrade.
var GroupVersion = schema.GroupVersion{Group: "raftshift.io", Version: "v1alpha1"}

// SchemeBuilder registers RaftUpgrade and RaftUpgradeList with a scheme.
var SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &RaftUpgrade{}, &RaftUpgradeList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
})

// AddToScheme adds the raftshift.io/v1alpha1 types to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme

// RaftUpgrade asks the operator to move one Raft cluster (an OpenBao
// StatefulSet) to Spec.Version with Spec.Strategy. It is namespaced: the
// cluster's StatefulSets, pods, Service and lock Lease live in the
// RaftUpgrade's namespace. Its status is raftshift's upgrade.Status.
type RaftUpgrade struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RaftUpgradeSpec `json:"spec,omitempty"`
	Status upgrade.Status  `json:"status,omitempty"`
}

// RaftUpgradeList is a list of RaftUpgrades.
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
	Version string `json:"version"`
	// Image is the target container image.
	Image string `json:"image"`
	// StatefulSet is the workload rolled (Rolling) or the base name of the
	// blue and green workloads (BlueGreen).
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
		out = deepCopyRollingSpec(*s.Rolling)
	}
	out.Version, out.Image, out.Workload = s.Version, s.Image, s.StatefulSet
	return out
}

// BlueGreenSpec returns the bluegreen.Spec for this RaftUpgrade: the
// BlueGreen options with the shared fields applied.
func (s *RaftUpgradeSpec) BlueGreenSpec() bluegreen.Spec {
	var out bluegreen.Spec
	if s.BlueGreen != nil {
		out = deepCopyBlueGreenSpec(*s.BlueGreen)
	}
	out.Version, out.Image, out.Workload, out.Service = s.Version, s.Image, s.StatefulSet, s.Service
	return out
}

// KubernetesConfig returns the Kubernetes adapter's configuration for a
// RaftUpgrade in namespace ns.
func (s *RaftUpgradeSpec) KubernetesConfig(ns string) kubernetes.Config {
	return kubernetes.Config{
		Namespace:    ns,
		Selector:     maps.Clone(s.Selector),
		ServiceName:  s.Service,
		Container:    s.Container,
		VersionLabel: s.VersionLabel,
	}
}

// DeepCopyInto copies s into out, sharing no memory.
func (s *RaftUpgradeSpec) DeepCopyInto(out *RaftUpgradeSpec) {
	*out = *s
	out.Selector = maps.Clone(s.Selector)
	if s.Rolling != nil {
		r := deepCopyRollingSpec(*s.Rolling)
		out.Rolling = &r
	}
	if s.BlueGreen != nil {
		b := deepCopyBlueGreenSpec(*s.BlueGreen)
		out.BlueGreen = &b
	}
	out.OpenBao.TokenSecretRef = s.OpenBao.TokenSecretRef.DeepCopy()
}

func deepCopyPrerequisites(p policy.Prerequisites) policy.Prerequisites {
	p.Workloads = slices.Clone(p.Workloads)
	return p
}

// deepCopyRollingSpec copies a rolling.Spec; its only reference field is
// Prerequisites.Workloads.
func deepCopyRollingSpec(s rolling.Spec) rolling.Spec {
	s.Prerequisites = deepCopyPrerequisites(s.Prerequisites)
	return s
}

// deepCopyBlueGreenSpec copies a bluegreen.Spec; its only reference field
// is Prerequisites.Workloads.
func deepCopyBlueGreenSpec(s bluegreen.Spec) bluegreen.Spec {
	s.Prerequisites = deepCopyPrerequisites(s.Prerequisites)
	return s
}

// DeepCopyInto copies r into out, sharing no memory.
func (r *RaftUpgrade) DeepCopyInto(out *RaftUpgrade) {
	*out = *r
	out.TypeMeta = r.TypeMeta
	r.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	r.Spec.DeepCopyInto(&out.Spec)
	out.Status = *r.Status.DeepCopy()
}

// DeepCopy returns a copy of r sharing no memory with it.
func (r *RaftUpgrade) DeepCopy() *RaftUpgrade {
	if r == nil {
		return nil
	}
	out := new(RaftUpgrade)
	r.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (r *RaftUpgrade) DeepCopyObject() runtime.Object {
	if c := r.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies l into out, sharing no memory.
func (l *RaftUpgradeList) DeepCopyInto(out *RaftUpgradeList) {
	*out = *l
	out.TypeMeta = l.TypeMeta
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]RaftUpgrade, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a copy of l sharing no memory with it.
func (l *RaftUpgradeList) DeepCopy() *RaftUpgradeList {
	if l == nil {
		return nil
	}
	out := new(RaftUpgradeList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *RaftUpgradeList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}
