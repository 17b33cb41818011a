package cluster

import (
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventType is the kind of a recorded pod watch event.
type EventType string

// Pod watch event types.
const (
	EventAdded    EventType = "ADDED"
	EventModified EventType = "MODIFIED"
	EventDeleted  EventType = "DELETED"
)

// PodEvent is one pod watch event as the recorder saw it.
type PodEvent struct {
	// Seq is the event's position in the recording (from 0).
	Seq int
	// At is the wall-clock time the event was handled.
	At time.Time
	// Type is ADDED, MODIFIED or DELETED.
	Type EventType
	// Pod is the pod name.
	Pod string
	// UID identifies the pod incarnation.
	UID types.UID
	// Ready is the pod's Ready condition.
	Ready bool
	// Terminating is true once the pod has a deletion timestamp.
	Terminating bool
	// Image is the server container's image in the pod spec.
	Image string
	// Revision is the pod's controller-revision-hash label.
	Revision string
}

// String renders the event on one line.
func (e PodEvent) String() string {
	return fmt.Sprintf("#%d %s %s uid=%s ready=%t image=%s", e.Seq, e.Type, e.Pod, short(e.UID), e.Ready, e.Image)
}

func short(uid types.UID) string {
	if len(uid) > 8 {
		return string(uid[:8])
	}
	return string(uid)
}

// Recorder keeps every pod watch event of a namespace in order.
type Recorder struct {
	mu     sync.Mutex
	events []PodEvent
}

func (r *Recorder) record(typ EventType, pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := PodEvent{
		Seq:         len(r.events),
		At:          time.Now(),
		Type:        typ,
		Pod:         pod.Name,
		UID:         pod.UID,
		Ready:       PodReady(pod),
		Terminating: pod.DeletionTimestamp != nil,
		Revision:    pod.Labels[appsv1.ControllerRevisionHashLabelKey],
	}
	if len(pod.Spec.Containers) > 0 {
		e.Image = pod.Spec.Containers[0].Image
	}
	r.events = append(r.events, e)
}

// Events returns a copy of the recorded events.
func (r *Recorder) Events() []PodEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PodEvent(nil), r.events...)
}

// Last returns the latest event recorded for the named pod.
func (r *Recorder) Last(pod string) (PodEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if r.events[i].Pod == pod {
			return r.events[i], true
		}
	}
	return PodEvent{}, false
}

// Mark returns the number of events recorded so far, to look at later
// events only with Since.
func (r *Recorder) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Since returns the events recorded after mark.
func (r *Recorder) Since(mark int) []PodEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PodEvent(nil), r.events[mark:]...)
}

// Recreation is one pod replaced by a new incarnation of the same name.
type Recreation struct {
	// Pod is the pod name.
	Pod string
	// OldUID and NewUID are the incarnations.
	OldUID, NewUID types.UID
	// Deleted is the sequence number of the old incarnation's DELETED
	// event, Added of the new one's ADDED event and Ready of its first ready
	// event (-1 if it has not become ready).
	Deleted, Added, Ready int
	// Image is the new incarnation's image.
	Image string
}

// String renders the recreation on one line.
func (r Recreation) String() string {
	return fmt.Sprintf("%s %s->%s (deleted #%d, added #%d, ready #%d, %s)", r.Pod, short(r.OldUID), short(r.NewUID), r.Deleted, r.Added, r.Ready, r.Image)
}

// Recreations returns, in order of deletion, the pods among events that
// were deleted and added again under a new UID. A pod deleted for good is
// not a recreation (see DeletedPods).
func Recreations(events []PodEvent) []Recreation {
	var out []Recreation
	for i, e := range events {
		if e.Type != EventDeleted {
			continue
		}
		rc := Recreation{Pod: e.Pod, OldUID: e.UID, Deleted: e.Seq, Added: -1, Ready: -1}
		for _, f := range events[i+1:] {
			if f.Pod != e.Pod || f.UID == e.UID {
				continue
			}
			if rc.NewUID == "" {
				if f.Type != EventAdded {
					continue
				}
				rc.NewUID, rc.Added, rc.Image = f.UID, f.Seq, f.Image
			}
			if f.UID == rc.NewUID && f.Ready && f.Type != EventDeleted {
				rc.Ready = f.Seq
				break
			}
		}
		if rc.NewUID != "" {
			out = append(out, rc)
		}
	}
	return out
}

// Deletions returns the DELETED events (pod name and the UID of the
// incarnation deleted), in order.
func Deletions(events []PodEvent) []PodEvent {
	var out []PodEvent
	for _, e := range events {
		if e.Type == EventDeleted {
			out = append(out, e)
		}
	}
	return out
}

// Additions returns the ADDED events (pod name and the UID of the new
// incarnation), in order.
func Additions(events []PodEvent) []PodEvent {
	var out []PodEvent
	for _, e := range events {
		if e.Type == EventAdded {
			out = append(out, e)
		}
	}
	return out
}

// DeletedPods returns the pod names of the DELETED events, in order.
func DeletedPods(events []PodEvent) []string {
	var out []string
	for _, e := range events {
		if e.Type == EventDeleted {
			out = append(out, e.Pod)
		}
	}
	return out
}

// FormatEvents renders events one per line.
func FormatEvents(events []PodEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}
