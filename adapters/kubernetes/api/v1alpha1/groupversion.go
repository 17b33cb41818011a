package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
