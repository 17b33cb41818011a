package kubernetes

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/raftshift/raftshift/upgrade"
)

func TestParseOrdinal(t *testing.T) {
	tests := []struct {
		set, pod string
		want     int32
		ok       bool
	}{
		{"bao", "bao-0", 0, true},
		{"bao", "bao-12", 12, true},
		{"bao", "bao-green-1", 0, false},
		{"bao-green", "bao-green-1", 1, true},
		{"bao", "bao-01", 0, false},
		{"bao", "bao--1", 0, false},
		{"bao", "bao-", 0, false},
		{"bao", "bao-2147483648", 0, false},
		{"bao", "bao-2147483647", 2147483647, true},
		{"", "-1", 0, false},
		{"bao", "other-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseOrdinal(tt.set, tt.pod)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseOrdinal(%q, %q) = %d, %v; want %d, %v", tt.set, tt.pod, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPodStatusOf(t *testing.T) {
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	running := func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(d)}}
	}
	base := upgrade.PodStatus{
		Exists: true, UID: "uid-bao-0", Phase: upgrade.PodRunning, Running: true, Ready: true,
		Restarts: 3, StartedAt: t0.Add(-55 * time.Minute), ReadySince: t0.Add(-50 * time.Minute),
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   func(s *upgrade.PodStatus)
	}{
		{"running and ready", func(*corev1.Pod) {}, func(*upgrade.PodStatus) {}},
		{"not ready: no ReadySince", func(p *corev1.Pod) {
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) { s.Ready, s.ReadySince = false, time.Time{} }},
		{"no Ready condition", func(p *corev1.Pod) {
			p.Status.Conditions = nil
		}, func(s *upgrade.PodStatus) { s.Ready, s.ReadySince = false, time.Time{} }},
		{"ready again after a flap: the last transition", func(p *corev1.Pod) {
			p.Status.Conditions[0].LastTransitionTime = at(-30 * time.Second)
		}, func(s *upgrade.PodStatus) { s.ReadySince = t0.Add(-30 * time.Second) }},
		{"container restarted inside the pod restarts the window", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = running(-2 * time.Minute)
			p.Status.ContainerStatuses[0].RestartCount = 2
			p.Status.Conditions[0].LastTransitionTime = at(-time.Minute)
		}, func(s *upgrade.PodStatus) {
			s.StartedAt, s.ReadySince, s.Restarts = t0.Add(-2*time.Minute), t0.Add(-time.Minute), 4
		}},
		{"a sidecar started last", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = running(-10 * time.Minute)
		}, func(s *upgrade.PodStatus) { s.StartedAt = t0.Add(-10 * time.Minute) }},
		{"pending, containers creating: startTime, not running", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = nil
			for i := range p.Status.ContainerStatuses {
				p.Status.ContainerStatuses[i].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
				p.Status.ContainerStatuses[i].Started = ptr.To(false)
			}
		}, func(s *upgrade.PodStatus) {
			*s = upgrade.PodStatus{Exists: true, UID: "uid-bao-0", Phase: upgrade.PodPending, Restarts: 3, StartedAt: t0.Add(-time.Hour)}
		}},
		{"just scheduled: nothing known", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodPending}
		}, func(s *upgrade.PodStatus) {
			*s = upgrade.PodStatus{Exists: true, UID: "uid-bao-0", Phase: upgrade.PodPending}
		}},
		{"one container crash-looping", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			p.Status.ContainerStatuses[0].Started = ptr.To(false)
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) {
			s.Running, s.Ready, s.ReadySince, s.CrashLooping = false, false, time.Time{}, true
			s.StartedAt = t0.Add(-59 * time.Minute) // the sidecar still runs
		}},
		{"startup probe not passed yet", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].Started = ptr.To(false)
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) { s.Running, s.Ready, s.ReadySince = false, false, time.Time{} }},
		{"started unset: running", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].Started = nil
		}, func(*upgrade.PodStatus) {}},
		{"a spec container without status", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = p.Status.ContainerStatuses[:1]
		}, func(s *upgrade.PodStatus) { s.Running, s.Restarts = false, 1 }},
		{"a container terminated", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
		}, func(s *upgrade.PodStatus) { s.Running = false }},
		{"statuses only, no spec", func(p *corev1.Pod) {
			p.Spec.Containers = nil
		}, func(*upgrade.PodStatus) {}},
		{"terminating still runs", func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr.To(at(-time.Second))
		}, func(s *upgrade.PodStatus) { s.Terminating = true }},
		{"phase not running", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
		}, func(s *upgrade.PodStatus) { s.Phase, s.Running = upgrade.PodFailed, false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("bao", 0, "r", "openbao/openbao:2.6.2", "2.6.2")
			p = *p.DeepCopy()
			tc.mutate(&p)
			before := p.DeepCopy()
			want := base
			tc.want(&want)
			// Kubernetes' one-second times are reported rounded up.
			want.StartedAt, want.ReadySince = roundUp(want.StartedAt), roundUp(want.ReadySince)
			got := podStatusOf(&p, testConfig())
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("PodStatusOf (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, &p); d != "" {
				t.Errorf("PodStatusOf mutated its input:\n%s", d)
			}
		})
	}
}

// TestPodTimesRoundedUp: Kubernetes stores pod times truncated to the
// second; PodStatusOf reports the latest instant they may stand for, so a
// stabilization window counted from them never ends early.
func TestPodTimesRoundedUp(t *testing.T) {
	p := pod("bao", 0, "r", "openbao/openbao:2.6.2", "2.6.2")
	ready := metav1.NewTime(t0.Add(-3 * time.Second))
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].LastTransitionTime = ready
		}
	}
	st := podStatusOf(&p, testConfig())
	if want := t0.Add(-2 * time.Second); !st.ReadySince.Equal(want) {
		t.Fatalf("ReadySince %s, want %s (stored %s rounded up)", st.ReadySince, want, ready.Time)
	}
	if st.StartedAt.IsZero() || st.StartedAt.Sub(st.StartedAt.Truncate(time.Second)) != 0 {
		t.Fatalf("StartedAt %s", st.StartedAt)
	}
	if !roundUp(time.Time{}).IsZero() {
		t.Fatal("zero must stay zero")
	}
}
