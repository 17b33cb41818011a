package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventType is the kind of a recorded watch event.
type EventType string

// Watch event types.
const (
	EventAdded    EventType = "ADDED"
	EventModified EventType = "MODIFIED"
	EventDeleted  EventType = "DELETED"
)

// PodEvent is one pod watch event as the recorder saw it.
type PodEvent struct {
	// Seq is the event's position in the recording (from 0), shared with
	// the StatefulSet events: a Mark taken before an action is <= the Seq
	// of every event recorded after it.
	Seq int
	// At is the wall-clock time the event was handled.
	At time.Time
	// Type is ADDED, MODIFIED or DELETED.
	Type EventType
	// Pod is the pod name.
	Pod string
	// UID identifies the pod incarnation.
	UID types.UID
	// RV is the object's resourceVersion in the event (the etcd revision of
	// the change; for DELETED, of the deletion): one order for every object
	// of the control plane.
	RV uint64
	// Set is the pod's LabelRevision label: the StatefulSet it belongs to.
	Set string
	// Ready is the pod's Ready condition.
	Ready bool
	// Terminating is true once the pod has a deletion timestamp.
	Terminating bool
	// Node is the node the pod is bound to ("" while unscheduled).
	Node string
	// Image is the server container's image in the pod spec.
	Image string
	// Revision is the pod's controller-revision-hash label.
	Revision string
}

// String renders the event on one line.
func (e PodEvent) String() string {
	s := fmt.Sprintf("#%d %s %s uid=%s ready=%t image=%s", e.Seq, e.Type, e.Pod, short(e.UID), e.Ready, e.Image)
	if e.Terminating {
		s += " terminating"
	}
	return s
}

func short(uid types.UID) string {
	if len(uid) > 8 {
		return string(uid[:8])
	}
	return string(uid)
}

// SetEvent is one StatefulSet watch event as the recorder saw it.
type SetEvent struct {
	// Seq is the event's position in the recording, shared with the pod
	// events.
	Seq int
	// At is the wall-clock time the event was handled.
	At time.Time
	// Type is ADDED, MODIFIED or DELETED.
	Type EventType
	// Name and UID identify the StatefulSet.
	Name string
	UID  types.UID
	// RV is the object's resourceVersion in the event (see PodEvent.RV).
	RV uint64
	// Generation and ObservedGeneration: the spec's generation and the
	// one the StatefulSet controller last acted on.
	Generation, ObservedGeneration int64
	// Strategy is spec.updateStrategy.type.
	Strategy appsv1.StatefulSetUpdateStrategyType
	// Partition is spec.updateStrategy.rollingUpdate.partition, -1 when
	// there is no rollingUpdate block (OnDelete).
	Partition int32
	// Image is the template's server container image.
	Image string
	// CurrentRevision and UpdateRevision are the controller's revisions.
	CurrentRevision, UpdateRevision string
	// Replicas, ReadyReplicas and UpdatedReplicas are from the status.
	Replicas, ReadyReplicas, UpdatedReplicas int32
}

// String renders the event on one line.
func (e SetEvent) String() string {
	return fmt.Sprintf("#%d %s statefulset/%s gen=%d observed=%d strategy=%s partition=%d image=%s ready=%d updated=%d",
		e.Seq, e.Type, e.Name, e.Generation, e.ObservedGeneration, e.Strategy, e.Partition, e.Image, e.ReadyReplicas, e.UpdatedReplicas)
}

// Recorder keeps every pod and StatefulSet watch event of a namespace, in
// the order its handlers saw them, under one sequence.
type Recorder struct {
	mu     sync.Mutex
	seq    int
	events []PodEvent
	sets   []SetEvent
}

func resourceVersion(rv string) uint64 {
	n, _ := strconv.ParseUint(rv, 10, 64)
	return n
}

func (r *Recorder) record(typ EventType, pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := PodEvent{
		Seq:         r.seq,
		At:          time.Now(),
		Type:        typ,
		Pod:         pod.Name,
		UID:         pod.UID,
		RV:          resourceVersion(pod.ResourceVersion),
		Set:         pod.Labels[LabelRevision],
		Ready:       PodReady(pod),
		Terminating: pod.DeletionTimestamp != nil,
		Node:        pod.Spec.NodeName,
		Revision:    pod.Labels[appsv1.ControllerRevisionHashLabelKey],
	}
	if len(pod.Spec.Containers) > 0 {
		e.Image = pod.Spec.Containers[0].Image
	}
	r.seq++
	r.events = append(r.events, e)
}

func (r *Recorder) recordSet(typ EventType, s *appsv1.StatefulSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := SetEvent{
		Seq:                r.seq,
		At:                 time.Now(),
		Type:               typ,
		Name:               s.Name,
		UID:                s.UID,
		RV:                 resourceVersion(s.ResourceVersion),
		Generation:         s.Generation,
		ObservedGeneration: s.Status.ObservedGeneration,
		Strategy:           s.Spec.UpdateStrategy.Type,
		Partition:          -1,
		CurrentRevision:    s.Status.CurrentRevision,
		UpdateRevision:     s.Status.UpdateRevision,
		Replicas:           s.Status.Replicas,
		ReadyReplicas:      s.Status.ReadyReplicas,
		UpdatedReplicas:    s.Status.UpdatedReplicas,
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		e.Partition = *ru.Partition
	}
	if c := s.Spec.Template.Spec.Containers; len(c) > 0 {
		e.Image = c[0].Image
	}
	r.seq++
	r.sets = append(r.sets, e)
}

// Events returns a copy of the recorded pod events.
func (r *Recorder) Events() []PodEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PodEvent(nil), r.events...)
}

// SetEvents returns a copy of the recorded StatefulSet events.
func (r *Recorder) SetEvents() []SetEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SetEvent(nil), r.sets...)
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

// LastSet returns the latest event recorded for the named StatefulSet.
func (r *Recorder) LastSet(name string) (SetEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.sets) - 1; i >= 0; i-- {
		if r.sets[i].Name == name {
			return r.sets[i], true
		}
	}
	return SetEvent{}, false
}

// Mark returns the sequence number of the next event, to look at later
// events only with Since and SetsSince.
func (r *Recorder) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Since returns the pod events recorded at or after mark.
func (r *Recorder) Since(mark int) []PodEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []PodEvent
	for _, e := range r.events {
		if e.Seq >= mark {
			out = append(out, e)
		}
	}
	return out
}

// SetsSince returns the StatefulSet events recorded at or after mark.
func (r *Recorder) SetsSince(mark int) []SetEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SetEvent
	for _, e := range r.sets {
		if e.Seq >= mark {
			out = append(out, e)
		}
	}
	return out
}

// Recreation is one pod replaced by a new incarnation of the same name.
type Recreation struct {
	// Pod is the pod name.
	Pod string
	// OldUID and NewUID are the incarnations.
	OldUID, NewUID types.UID
	// Terminating is the sequence number of the first event showing the
	// old incarnation terminating (its deletion requested), Deleted of its
	// DELETED event, Added of the new one's ADDED event and Ready of its
	// first ready event (-1 if it has not become ready). A pod deleted at
	// once (no grace period) has Terminating == Deleted.
	Terminating, Deleted, Added, Ready int
	// Image is the new incarnation's image.
	Image string
}

// String renders the recreation on one line.
func (r Recreation) String() string {
	return fmt.Sprintf("%s %s->%s (terminating #%d, deleted #%d, added #%d, ready #%d, %s)", r.Pod, short(r.OldUID), short(r.NewUID),
		r.Terminating, r.Deleted, r.Added, r.Ready, r.Image)
}

// Recreations returns, in order of deletion, the pods among events that
// were deleted and added again under a new UID. A pod deleted for good is
// not a recreation (see DeletedPods).
func Recreations(events []PodEvent) []Recreation {
	terminating := map[types.UID]int{}
	for _, e := range events {
		if _, seen := terminating[e.UID]; !seen && (e.Terminating || e.Type == EventDeleted) {
			terminating[e.UID] = e.Seq
		}
	}
	var out []Recreation
	for i, e := range events {
		if e.Type != EventDeleted {
			continue
		}
		rc := Recreation{Pod: e.Pod, OldUID: e.UID, Terminating: terminating[e.UID], Deleted: e.Seq, Added: -1, Ready: -1}
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
			if f.UID == rc.NewUID && f.Ready && !f.Terminating && f.Type != EventDeleted {
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

// Terminations returns, for each pod incarnation among events whose
// deletion was requested, the first event showing it: the first event with
// a deletion timestamp, or its DELETED event when it vanished at once. In
// order.
func Terminations(events []PodEvent) []PodEvent {
	seen := map[types.UID]bool{}
	var out []PodEvent
	for _, e := range events {
		if seen[e.UID] || (!e.Terminating && e.Type != EventDeleted) {
			continue
		}
		seen[e.UID] = true
		out = append(out, e)
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

// PartitionChanges returns the events of the named StatefulSet, among
// events (all the recording, in order), that show a new update strategy or
// partition: its first event, then every event whose strategy or partition
// differs from the previous one.
func PartitionChanges(events []SetEvent, name string) []SetEvent {
	var out []SetEvent
	var prev *SetEvent
	for i := range events {
		e := &events[i]
		if e.Name != name || e.Type == EventDeleted {
			continue
		}
		if prev == nil || prev.Partition != e.Partition || prev.Strategy != e.Strategy {
			out = append(out, *e)
		}
		prev = e
	}
	return out
}

// SetBefore returns the last event of the named StatefulSet among events
// whose resourceVersion is below rv: the StatefulSet as it stood when the
// change of revision rv was made (ok false when none was recorded).
func SetBefore(events []SetEvent, name string, rv uint64) (SetEvent, bool) {
	var out SetEvent
	ok := false
	for _, e := range events {
		if e.Name == name && e.RV < rv && (!ok || e.RV >= out.RV) {
			out, ok = e, true
		}
	}
	return out, ok
}

// FormatEvents renders pod events one per line.
func FormatEvents(events []PodEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// FormatSetEvents renders StatefulSet events one per line.
func FormatSetEvents(events []SetEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}
