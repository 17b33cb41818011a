package e2e_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// opEntry is one write the reconciler made to the cluster (through its
// client) or one Raft action it executed (through the RaftCluster).
type opEntry struct {
	// Mark is the recorder's mark before the write: every watch event it
	// caused has a sequence number >= Mark.
	Mark int
	// At is when the write was made.
	At time.Time
	// Leader is the simulated Raft leader when the write was made.
	Leader string
	// Manager numbers the manager that made it (1, then 2 after a
	// restart).
	Manager int
	// Verb is create, update, patch, delete (Kubernetes) or raft.
	Verb string
	// Kind and Name identify the Kubernetes object.
	Kind, Name string
	// UID is a delete's UID precondition.
	UID types.UID
	// Partition is the StatefulSet's partition after a patch that set it
	// (-1 otherwise).
	Partition int32
	// Selects is the revision a Service selects after a patch.
	Selects string
	// Action is the Raft action (Verb raft).
	Action upgrade.Action
	Err    error
}

func (e opEntry) String() string {
	s := fmt.Sprintf("mgr %d mark #%-3d leader %-22s ", e.Manager, e.Mark, e.Leader)
	if e.Verb == "raft" {
		s += "raft " + e.Action.String()
	} else {
		s += e.Verb + " " + e.Kind + "/" + e.Name
		if e.Partition >= 0 {
			s += " partition=" + strconv.Itoa(int(e.Partition))
		}
		if e.Selects != "" {
			s += " selects=" + e.Selects
		}
	}
	if e.Err != nil {
		s += " -> error: " + e.Err.Error()
	}
	return s
}

// opLog is the ordered log of a scenario's writes, shared by its managers.
type opLog struct {
	mu      sync.Mutex
	rs      *cluster.RaftSet
	manager int
	entries []opEntry
}

func (l *opLog) begin() opEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return opEntry{Mark: l.rs.Recorder.Mark(), At: time.Now(), Leader: l.rs.Raft.Leader(), Manager: l.manager, Partition: -1}
}

func (l *opLog) add(e opEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
}

func (l *opLog) setManager(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.manager = n
}

// ok returns the successful entries.
func (l *opLog) ok() []opEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []opEntry
	for _, e := range l.entries {
		if e.Err == nil {
			out = append(out, e)
		}
	}
	return out
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i, e := range l.entries {
		fmt.Fprintf(&b, "%3d %s\n", i, e)
	}
	return b.String()
}

// loggingClient is the reconciler's client (the manager's cached client)
// with its writes to the cluster logged. Status writes of the RaftUpgrade
// go through Status() and are not logged.
type loggingClient struct {
	client.Client
	log *opLog
}

func kindOf(obj client.Object) string {
	k := fmt.Sprintf("%T", obj)
	return k[strings.LastIndex(k, ".")+1:]
}

func (c loggingClient) note(e opEntry, verb string, obj client.Object, err error) {
	e.Verb, e.Kind, e.Name, e.Err = verb, kindOf(obj), obj.GetName(), err
	c.log.add(e)
}

func (c loggingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	e := c.log.begin()
	err := c.Client.Create(ctx, obj, opts...)
	c.note(e, "create", obj, err)
	return err
}

func (c loggingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	e := c.log.begin()
	err := c.Client.Update(ctx, obj, opts...)
	c.note(e, "update", obj, err)
	return err
}

func (c loggingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	e := c.log.begin()
	if o := (&client.DeleteOptions{}).ApplyOptions(opts); o.Preconditions != nil && o.Preconditions.UID != nil {
		e.UID = *o.Preconditions.UID
	}
	err := c.Client.Delete(ctx, obj, opts...)
	c.note(e, "delete", obj, err)
	return err
}

func (c loggingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	e := c.log.begin()
	data, _ := patch.Data(obj)
	err := c.Client.Patch(ctx, obj, patch, opts...)
	if err == nil {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && strings.Contains(string(data), `"partition"`) {
				e.Partition = *ru.Partition
			}
		case *corev1.Service:
			e.Selects = o.Spec.Selector[cluster.LabelRevision]
		}
	}
	c.note(e, "patch", obj, err)
	return err
}
