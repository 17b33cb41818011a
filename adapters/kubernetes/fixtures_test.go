package kubernetes

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const testNS = "vault"

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		Namespace:         testNS,
		Selector:          map[string]string{"app": "bao"},
		ServiceName:       "bao",
		Container:         "openbao",
		VersionLabel:      "app.kubernetes.io/version",
		VersionAnnotation: "raftshift.io/version",
	}
}

// sts builds a StatefulSet named name at image/version with a partition.
func sts(name, image, version string, replicas, partition int32) appsv1.StatefulSet {
	return appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, UID: types.UID("uid-" + name),
			Labels:      map[string]string{"app": "bao"},
			Annotations: map[string]string{LastAppliedAnnotation: "{}", "team": "storage"},
			Generation:  3,
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "bao-internal",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bao", DefaultRevisionLabel: name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: map[string]string{"app": "bao", DefaultRevisionLabel: name, "app.kubernetes.io/version": version},
				},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "openbao", Image: image},
					{Name: "sidecar", Image: "busybox:1.36"},
				}},
			},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(partition)},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
		Status: appsv1.StatefulSetStatus{
			ObservedGeneration: 3,
			CurrentRevision:    name + "-aaa",
			UpdateRevision:     name + "-aaa",
			ReadyReplicas:      replicas,
			UpdatedReplicas:    replicas,
		},
	}
}

// pod builds a ready, running pod of set at ordinal with image/version.
func pod(set string, ordinal int, revision, image, version string) corev1.Pod {
	name := set + "-" + strconv.Itoa(ordinal)
	return corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, UID: types.UID("uid-" + name),
			Labels: map[string]string{
				"app": "bao", DefaultRevisionLabel: set, "app.kubernetes.io/version": version,
				appsv1.ControllerRevisionHashLabelKey: revision,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "StatefulSet", Name: set, UID: types.UID("uid-" + set), Controller: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "openbao", Image: image},
			{Name: "sidecar", Image: "busybox:1.36"},
		}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(t0.Add(-50 * time.Minute))}},
			StartTime: ptr.To(metav1.NewTime(t0.Add(-time.Hour))),
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "openbao", RestartCount: 1, Started: ptr.To(true), State: corev1.ContainerState{
					Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0.Add(-55 * time.Minute))}}},
				{Name: "sidecar", RestartCount: 2, Started: ptr.To(true), State: corev1.ContainerState{
					Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0.Add(-59 * time.Minute))}}},
			},
		},
	}
}

func service(selector map[string]string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "bao", Namespace: testNS},
		Spec:       corev1.ServiceSpec{Selector: selector},
	}
}

func waiting(p corev1.Pod, reason string) corev1.Pod {
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	return p
}
