package controller_test

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/upgrade"
)

// unreachable is a Raft cluster whose API does not answer.
type unreachable struct{}

func (unreachable) Observe(_ context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	obs.Raft = upgrade.RaftView{}
	return obs, errors.New("connection refused")
}

func (unreachable) Execute(context.Context, *upgrade.Observation, upgrade.Action) error {
	return errors.New("connection refused")
}

// ExampleEvictionHandler judges a drain's eviction of a Raft member while
// the cluster's Raft API does not answer: unknown is never absent, so the
// eviction is refused with 429 and Retry-After, and the drain retries.
// (Serve it with SetupWithManager, or as admission.Webhook{Handler: h}.)
func ExampleEvictionHandler() {
	labels := map[string]string{"app": "openbao"}
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "openbao", Namespace: "vault", Labels: labels},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "openbao-0", Namespace: "vault", Labels: labels}}
	ru := &v1alpha1.RaftUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "openbao", Namespace: "vault"},
		Spec: v1alpha1.RaftUpgradeSpec{StatefulSet: "openbao", Selector: labels}}
	scheme, _ := controller.NewScheme()
	h := &controller.EvictionHandler{
		Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(set, pod, ru).Build(),
		Raft: func(context.Context, *v1alpha1.RaftUpgrade) (controller.RaftCluster, error) {
			return unreachable{}, nil
		},
	}
	resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		SubResource: "eviction", Namespace: "vault", Name: "openbao-0",
	}})
	fmt.Println("allowed:", resp.Allowed)
	fmt.Println("code:", resp.Result.Code, resp.Result.Reason, "retry after", resp.Result.Details.RetryAfterSeconds, "s")
	fmt.Println(resp.Result.Message[:55])
	// Output:
	// allowed: false
	// code: 429 TooManyRequests retry after 5 s
	// openbao-0 is not evicted: the raft view is unknown (the
}
