package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/upgrade"
)

// ActionExecutor carries out one Action decided on obs (the observation
// the Decision was computed from, which names members and their Raft IDs;
// executors that do not need it accept nil). Executing an action that is
// already done succeeds. It is the one executor shape of raftshift's
// adapters: Executor and CompositeExecutor implement it, and so does the
// OpenBao adapter (*openbao.Adapter) for the Raft actions.
type ActionExecutor interface {
	Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error
}

// ActionError reports which action of a Decision failed.
type ActionError struct {
	// Index is the action's position in Decision.Actions.
	Index int
	// Action is the failed action.
	Action upgrade.Action
	// Err is the cause.
	Err error
}

// Error implements error; it names the action with its String().
func (e *ActionError) Error() string {
	return fmt.Sprintf("action %d (%s): %v", e.Index, e.Action, e.Err)
}

// Unwrap returns the cause.
func (e *ActionError) Unwrap() error { return e.Err }

// Executor carries out the Kubernetes actions of a Decision with a
// controller-runtime client: each action is planned against freshly read
// objects (Plan) and applied; a Conflict re-reads and re-plans
// (retry.RetryOnConflict). Actions already reflected by the cluster are
// no-ops, so executing the same Decision twice is safe.
//
// The operation lock is a coordination.k8s.io/v1 Lease named
// Config.LockName in Config.Namespace: AcquireLock creates it or sets its
// holderIdentity when free, ReleaseLock clears holderIdentity; a lock held by
// another holder fails with a *LockHeldError (errors.Is ErrLockHeld). The
// Lease has no duration: it is an operation lock, not a leader-election
// lease, and only ReleaseLock (or a person deleting the Lease) frees it.
type Executor struct {
	// Client reads and writes the objects.
	Client client.Client
	// Config locates the cluster; Config.Namespace is required.
	Config Config
	// Recorder records a Decision's events (nil: they are dropped).
	Recorder events.EventRecorder
	// EventObject is the object events are recorded on; nil means the
	// Service named Config.ServiceName (events are dropped when it cannot be
	// read). Recording never fails an action.
	EventObject runtime.Object
	// Clock supplies the Lease's acquire time (default time.Now).
	Clock func() time.Time
	// Backoff bounds conflict retries (default retry.DefaultRetry).
	Backoff *wait.Backoff
}

// Apply executes d.Actions in order and stops at the first failure, which it
// returns as an *ActionError naming the action, then emits d.Events
// best-effort (a failed event write never fails Apply). Raft actions fail
// with ErrNotKubernetesAction; use CompositeExecutor to route them.
func (e *Executor) Apply(ctx context.Context, obs *upgrade.Observation, d upgrade.Decision) error {
	err := applyAll(ctx, e, obs, d.Actions)
	e.Emit(ctx, d.Events)
	return err
}

// EventAction is the action of the events.k8s.io Events the Executor
// records for a Decision's events.
const EventAction = "Upgrade"

// EventEmitter emits a Decision's events best-effort.
type EventEmitter interface {
	Emit(ctx context.Context, events []upgrade.Event)
}

// Emit records events on Recorder, on EventObject (or the Service named
// Config.ServiceName). Events are best-effort: nothing is returned, and
// with no Recorder they are dropped.
func (e *Executor) Emit(ctx context.Context, events []upgrade.Event) {
	cfg := e.Config.WithDefaults()
	for _, ev := range events {
		e.record(ctx, ev, cfg)
	}
}

func applyAll(ctx context.Context, x ActionExecutor, obs *upgrade.Observation, actions []upgrade.Action) error {
	for i, a := range actions {
		if err := ctx.Err(); err != nil {
			return &ActionError{Index: i, Action: a, Err: err}
		}
		if err := x.Execute(ctx, obs, a); err != nil {
			return &ActionError{Index: i, Action: a, Err: err}
		}
	}
	return nil
}

// Execute carries out one Kubernetes action. Raft actions return an error
// wrapping ErrNotKubernetesAction.
func (e *Executor) Execute(ctx context.Context, _ *upgrade.Observation, a upgrade.Action) error {
	if a == nil {
		return fmt.Errorf("nil action: %w", ErrInvalidAction)
	}
	if !IsKubernetesAction(a) {
		return fmt.Errorf("%s: %w", a, ErrNotKubernetesAction)
	}
	cfg := e.Config.WithDefaults()
	if cfg.Namespace == "" {
		return fmt.Errorf("executor config has no namespace: %w", ErrInvalidAction)
	}
	backoff := retry.DefaultRetry
	if e.Backoff != nil {
		backoff = *e.Backoff
	}
	return retry.RetryOnConflict(backoff, func() error {
		st, err := e.load(ctx, a, cfg)
		if err != nil {
			return err
		}
		ch, err := plan(a, st, cfg, e.now())
		if err != nil {
			return err
		}
		return e.apply(ctx, ch, cfg)
	})
}

func (e *Executor) now() time.Time {
	if e.Clock != nil {
		return e.Clock()
	}
	return time.Now()
}

// load reads the objects Plan needs for a.
func (e *Executor) load(ctx context.Context, a upgrade.Action, cfg Config) (state, error) {
	var st state
	getSet := func(name string) error {
		if name == "" {
			return nil
		}
		var s appsv1.StatefulSet
		if err := e.get(ctx, cfg, name, &s); err != nil || s.Name == "" {
			return err
		}
		st.StatefulSets = append(st.StatefulSets, s)
		return nil
	}
	switch a := a.(type) {
	case upgrade.SetPartition:
		return st, getSet(a.Workload)
	case upgrade.UpdateTemplate:
		return st, getSet(a.Workload)
	case upgrade.DeleteRevision:
		return st, getSet(a.Workload)
	case upgrade.DeletePod:
		if a.Member == "" {
			return st, nil
		}
		var p corev1.Pod
		if err := e.get(ctx, cfg, a.Member, &p); err != nil {
			return st, err
		}
		if p.Name != "" {
			st.Pods = append(st.Pods, p)
		}
		return st, nil
	case upgrade.CreateRevision:
		var list appsv1.StatefulSetList
		if err := e.Client.List(ctx, &list, client.InNamespace(cfg.Namespace), client.MatchingLabels(cfg.Selector)); err != nil {
			return st, fmt.Errorf("list statefulsets: %w", err)
		}
		st.StatefulSets = list.Items
		if st.set(a.Workload) == nil { // the new set may lack the cluster's labels
			if err := getSet(a.Workload); err != nil {
				return st, err
			}
		}
		return st, e.getService(ctx, cfg, cfg.ServiceName, &st)
	case upgrade.SwitchService:
		name := a.Service
		if name == "" {
			name = cfg.ServiceName
		}
		if err := e.getService(ctx, cfg, name, &st); err != nil {
			return st, err
		}
		return st, getSet(a.Workload)
	case upgrade.AcquireLock, upgrade.ReleaseLock:
		var l coordinationv1.Lease
		if err := e.get(ctx, cfg, cfg.LockName, &l); err != nil {
			return st, err
		}
		if l.Name != "" {
			st.Lease = &l
		}
		return st, nil
	}
	return st, nil
}

// get reads a namespaced object; NotFound leaves obj zero and returns nil.
func (e *Executor) get(ctx context.Context, cfg Config, name string, obj client.Object) error {
	err := e.Client.Get(ctx, client.ObjectKey{Namespace: cfg.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	return nil
}

func (e *Executor) getService(ctx context.Context, cfg Config, name string, st *state) error {
	if name == "" {
		return nil
	}
	var svc corev1.Service
	if err := e.get(ctx, cfg, name, &svc); err != nil {
		return err
	}
	if svc.Name != "" {
		st.Service = &svc
	}
	return nil
}

// apply performs a planned change; outcomes that mean "already done" are
// successes.
func (e *Executor) apply(ctx context.Context, ch change, cfg Config) error {
	owner := client.FieldOwner(cfg.FieldOwner)
	switch ch.Op {
	case opNone:
		return nil
	case opPatch:
		if err := e.Client.Patch(ctx, ch.Object, ch.Patch, owner); err != nil {
			return fmt.Errorf("patch %s: %w", ch.Object.GetName(), err)
		}
		return nil
	case opCreate:
		err := e.Client.Create(ctx, ch.Object, owner)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", ch.Object.GetName(), err)
		}
		return nil
	case opDelete:
		err := e.Client.Delete(ctx, ch.Object, ch.Delete)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err):
			// The UID precondition failed: the object was recreated, so the
			// deletion this action asked for has already happened.
			return nil
		default:
			return fmt.Errorf("delete %s: %w", ch.Object.GetName(), err)
		}
	default:
		return fmt.Errorf("unknown change %q: %w", ch.Op, errors.ErrUnsupported)
	}
}

func (e *Executor) record(ctx context.Context, ev upgrade.Event, cfg Config) {
	if e.Recorder == nil {
		return
	}
	obj := e.EventObject
	if obj == nil {
		if cfg.ServiceName == "" {
			return
		}
		var svc corev1.Service
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: cfg.Namespace, Name: cfg.ServiceName}, &svc); err != nil {
			return
		}
		obj = &svc
	}
	typ := string(ev.Type)
	if typ == "" {
		typ = string(upgrade.EventNormal)
	}
	e.Recorder.Eventf(obj, nil, typ, ev.Reason, EventAction, "%s", ev.Message)
}

// CompositeExecutor routes each action of a Decision to the Kubernetes
// executor or to the Raft executor.
type CompositeExecutor struct {
	// Kubernetes carries out the Kubernetes actions (IsKubernetesAction).
	Kubernetes ActionExecutor
	// Raft carries out the others; nil makes them fail with
	// ErrNotKubernetesAction.
	Raft ActionExecutor
}

// Execute routes one action.
func (c CompositeExecutor) Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	if a == nil {
		return fmt.Errorf("nil action: %w", ErrInvalidAction)
	}
	if IsKubernetesAction(a) {
		if c.Kubernetes == nil {
			return fmt.Errorf("%s: no kubernetes executor: %w", a, ErrInvalidAction)
		}
		return c.Kubernetes.Execute(ctx, obs, a)
	}
	if c.Raft == nil {
		return fmt.Errorf("%s: no raft executor: %w", a, ErrNotKubernetesAction)
	}
	return c.Raft.Execute(ctx, obs, a)
}

// Apply executes d.Actions in order, stops at the first failure and returns
// it as an *ActionError, then emits d.Events best-effort through the
// Kubernetes executor when it is an EventEmitter.
func (c CompositeExecutor) Apply(ctx context.Context, obs *upgrade.Observation, d upgrade.Decision) error {
	err := applyAll(ctx, c, obs, d.Actions)
	if em, ok := c.Kubernetes.(EventEmitter); ok {
		em.Emit(ctx, d.Events)
	}
	return err
}
