package cluster

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// onPod is the pod informer's handler: it records the event, updates the
// simulated Raft, binds new pods, schedules unready pods to become ready and
// terminating pods to go.
func (rs *RaftSet) onPod(typ EventType, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	// Raft first: once the recorder holds an event, Raft has seen it too.
	rs.Raft.onPod(pod, typ == EventDeleted)
	rs.Recorder.record(typ, pod)
	if typ == EventDeleted {
		return
	}
	if pod.DeletionTimestamp != nil {
		rs.maybeTerminate(pod)
		return
	}
	rs.maybeBind(pod)
	rs.maybeBoot(pod)
}

// maybeBind binds a new pod incarnation to NodeName once, as the scheduler
// would: a bound pod is deleted gracefully (an unbound one would vanish at
// once).
func (rs *RaftSet) maybeBind(pod *corev1.Pod) {
	if pod.Spec.NodeName != "" {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.binding[pod.UID] {
		return
	}
	rs.binding[pod.UID] = true
	name, uid := pod.Name, pod.UID
	go func() {
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: uid},
			Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
		}
		_ = rs.CP.Client.CoreV1().Pods(rs.Namespace).Bind(rs.ctx, b, metav1.CreateOptions{})
	}()
}

// maybeTerminate starts the shutdown of a terminating pod incarnation once.
func (rs *RaftSet) maybeTerminate(pod *corev1.Pod) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.terminating[pod.UID] {
		return
	}
	rs.terminating[pod.UID] = true
	go rs.terminate(pod.Name, pod.UID)
}

// terminate stands in for the kubelet killing a deleted pod: the server
// stops serving at once (the pod turns unready), its container exits
// within TerminationDelay, and the pod object is then removed (a delete
// with grace period 0, as the kubelet does once the containers are gone).
func (rs *RaftSet) terminate(name string, uid types.UID) {
	ctx := rs.ctx
	pods := rs.CP.Client.CoreV1().Pods(rs.Namespace)
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil || pod.UID != uid || !PodReady(pod) {
			return nil
		}
		markUnready(pod, time.Now())
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	select {
	case <-ctx.Done():
		return
	case <-time.After(rs.Spec.TerminationDelay):
	}
	zero := int64(0)
	_ = pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
}

// maybeBoot starts booting an unready pod incarnation once.
func (rs *RaftSet) maybeBoot(pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil || PodReady(pod) {
		return
	}
	rs.mu.Lock()
	if rs.booting[pod.UID] || rs.hold[pod.Name] {
		rs.mu.Unlock()
		return
	}
	rs.booting[pod.UID] = true
	rs.mu.Unlock()
	go rs.boot(pod.Name, pod.UID)
}

// boot waits ReadyDelay and marks the pod incarnation Running and Ready.
func (rs *RaftSet) boot(name string, uid types.UID) {
	ctx := rs.ctx
	select {
	case <-ctx.Done():
		return
	case <-time.After(rs.Spec.ReadyDelay):
	}
	pods := rs.CP.Client.CoreV1().Pods(rs.Namespace)
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil || pod.UID != uid || pod.DeletionTimestamp != nil {
			return nil // gone or recreated: the new incarnation boots itself
		}
		rs.mu.Lock()
		held := rs.hold[name]
		rs.mu.Unlock()
		if held {
			rs.mu.Lock()
			delete(rs.booting, uid)
			rs.mu.Unlock()
			return nil
		}
		markReady(pod, time.Now())
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// Hold keeps a pod unready (a server that fails to boot) until Release.
func (rs *RaftSet) Hold(pod string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.hold[pod] = true
}

// Release lets a held pod become ready.
func (rs *RaftSet) Release(pod string) {
	rs.mu.Lock()
	rs.hold[pod] = false
	rs.mu.Unlock()
	p, err := rs.CP.Client.CoreV1().Pods(rs.Namespace).Get(rs.ctx, pod, metav1.GetOptions{})
	if err == nil {
		rs.maybeBoot(p)
	}
}

// markReady sets the status a kubelet would report for a started, ready
// pod whose containers run the images of its spec.
func markReady(pod *corev1.Pod, now time.Time) {
	t := metav1.NewTime(now)
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &t
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:         c.Name,
			Image:        c.Image,
			ImageID:      "e2e://" + c.Image,
			ContainerID:  "e2e://" + string(pod.UID) + "/" + c.Name,
			Ready:        true,
			Started:      &started,
			RestartCount: 0,
			State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
		})
	}
}

// markUnready sets the status a kubelet reports once a deleted pod's
// container has been sent SIGTERM and stopped serving.
func markUnready(pod *corev1.Pod, now time.Time) {
	t := metav1.NewTime(now)
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			c.Status, c.LastTransitionTime, c.Reason = corev1.ConditionFalse, t, "Terminating"
		}
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = false
	}
}

// PodReady reports whether the pod's Ready condition is True.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
