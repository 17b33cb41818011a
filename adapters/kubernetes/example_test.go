package kubernetes_test

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/upgrade"
)

// Example observes a three-pod OpenBao StatefulSet with a fake client, then
// executes a rolling step twice: the second run is a no-op.
func Example() {
	labels := map[string]string{"app": "openbao", "raftshift.io/revision": "openbao"}
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "openbao", Namespace: "vault", Labels: map[string]string{"app": "openbao"}},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "openbao", Image: "openbao/openbao:2.3.1"}}},
			},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
	objs := []client.Object{set, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "openbao", Namespace: "vault"},
		Spec:       corev1.ServiceSpec{Selector: labels},
	}}
	for i := range 3 {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("openbao-%d", i), Namespace: "vault", UID: types.UID(fmt.Sprint("uid-", i)), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "openbao", Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "openbao", Image: "openbao/openbao:2.3.1"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	ctx := context.Background()
	cfg := kubernetes.Config{Namespace: "vault", Selector: map[string]string{"app": "openbao"}, ServiceName: "openbao", Container: "openbao"}
	now := func() time.Time { return time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC) }

	obs, err := (&kubernetes.Observer{Reader: c, Config: cfg, Clock: now}).Observe(ctx)
	if err != nil {
		panic(err)
	}
	w := obs.Workloads[0]
	fmt.Printf("workload %s: %d replicas, partition %d, version %s, service -> %s\n", w.Name, w.Replicas, w.Partition, w.Version, obs.Service.Workload)
	for _, m := range obs.Members {
		fmt.Printf("  %s ordinal %d ready=%v version %s\n", m.Name, m.Ordinal, m.Pod.Ready, m.Version)
	}

	exec := &kubernetes.Executor{Client: c, Config: cfg, Clock: now}
	step := upgrade.Decision{Actions: []upgrade.Action{
		upgrade.AcquireLock{Holder: "upgrade-1"},
		upgrade.SetPartition{Workload: "openbao", Partition: 3},
		upgrade.UpdateTemplate{Workload: "openbao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "openbao", Partition: 2},
		upgrade.DeletePod{Member: "openbao-2", UID: "uid-2"},
	}}
	for run := 1; run <= 2; run++ {
		fmt.Printf("run %d: err=%v\n", run, exec.Apply(ctx, nil, step))
	}
	obs, _ = (&kubernetes.Observer{Reader: c, Config: cfg, Clock: now}).Observe(ctx)
	w = obs.Workloads[0]
	m, _ := obs.Member("openbao-2")
	fmt.Printf("partition %d, template %s, lock held by %s, openbao-2 exists=%v\n", w.Partition, w.Image, obs.Lock.Holder, m.Pod.Exists)

	err = exec.Execute(ctx, nil, upgrade.StepDown{Member: "openbao-0"})
	fmt.Println(err)
	// Output:
	// workload openbao: 3 replicas, partition 0, version 2.3.1, service -> openbao
	//   openbao-0 ordinal 0 ready=true version 2.3.1
	//   openbao-1 ordinal 1 ready=true version 2.3.1
	//   openbao-2 ordinal 2 ready=true version 2.3.1
	// run 1: err=<nil>
	// run 2: err=<nil>
	// partition 2, template openbao/openbao:2.4.0, lock held by upgrade-1, openbao-2 exists=false
	// step down leader openbao-0: not a kubernetes action
}
