package kubernetes

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/upgrade"
)

// Observer reads the cluster's objects with a controller-runtime
// client.Reader (a cached manager client or a direct client) and builds the
// Kubernetes part of an Observation.
type Observer struct {
	// Reader lists and gets the objects.
	Reader client.Reader
	// Config locates the cluster.
	Config Config
	// Clock supplies Observation.Now (default time.Now).
	Clock func() time.Time
}

// snapshot is the set of objects one observation is built from.
type snapshot struct {
	// StatefulSets selected by Config.Selector in Config.Namespace.
	StatefulSets []appsv1.StatefulSet
	// Pods matched by any of the StatefulSets' selectors.
	Pods []corev1.Pod
	// Service named Config.ServiceName (nil when absent or not configured).
	Service *corev1.Service
	// Lease is the operation lock (nil when absent).
	Lease *coordinationv1.Lease
}

// Read lists the StatefulSets by Config.Selector, their pods by each
// StatefulSet's own selector, and gets the Service and the lock Lease.
func (o *Observer) Read(ctx context.Context) (snapshot, error) {
	cfg := o.Config.WithDefaults()
	var snap snapshot
	var sets appsv1.StatefulSetList
	opts := []client.ListOption{client.MatchingLabels(cfg.Selector)}
	if cfg.Namespace != "" {
		opts = append(opts, client.InNamespace(cfg.Namespace))
	}
	if err := o.Reader.List(ctx, &sets, opts...); err != nil {
		return snap, fmt.Errorf("list statefulsets: %w", err)
	}
	snap.StatefulSets = sets.Items

	seen := make(map[string]bool)
	for i := range sets.Items {
		s := &sets.Items[i]
		if s.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil {
			return snap, fmt.Errorf("statefulset %s selector: %w", s.Name, err)
		}
		var pods corev1.PodList
		if err := o.Reader.List(ctx, &pods, client.InNamespace(s.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return snap, fmt.Errorf("list pods of statefulset %s: %w", s.Name, err)
		}
		for _, p := range pods.Items {
			key := p.Namespace + "/" + p.Name
			if !seen[key] {
				seen[key] = true
				snap.Pods = append(snap.Pods, p)
			}
		}
	}

	ns := cfg.Namespace
	if cfg.ServiceName != "" {
		var svc corev1.Service
		switch err := o.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: cfg.ServiceName}, &svc); {
		case err == nil:
			snap.Service = &svc
		case !apierrors.IsNotFound(err):
			return snap, fmt.Errorf("get service %s: %w", cfg.ServiceName, err)
		}
	}
	var lease coordinationv1.Lease
	switch err := o.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: cfg.LockName}, &lease); {
	case err == nil:
		snap.Lease = &lease
	case !apierrors.IsNotFound(err):
		return snap, fmt.Errorf("get lease %s: %w", cfg.LockName, err)
	}
	return snap, nil
}

// Observe reads the objects and returns BuildObservation of them with Lock
// filled from the lock Lease. Raft, Backup, Capabilities and Hooks are left
// zero for the Raft adapter and the host.
func (o *Observer) Observe(ctx context.Context) (upgrade.Observation, error) {
	snap, err := o.Read(ctx)
	if err != nil {
		return upgrade.Observation{}, err
	}
	now := time.Now
	if o.Clock != nil {
		now = o.Clock
	}
	obs := buildObservation(now(), snap.StatefulSets, snap.Pods, snap.Service, o.Config)
	obs.Lock = lockFromLease(snap.Lease)
	return obs, nil
}
