package cluster

import (
	"context"
	"path"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
	"k8s.io/kubernetes/pkg/controller/statefulset"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ControlPlane is an in-process Kubernetes control plane: embedded etcd, a
// real kube-apiserver and the real StatefulSet controller. There is no
// scheduler, no kubelet and no other controller.
type ControlPlane struct {
	// Config reaches the kube-apiserver with full privileges.
	Config *rest.Config
	// Client is a client-go clientset for Config.
	Client kubernetes.Interface
	// Runtime is a controller-runtime client (uncached) for Config, the
	// client the raftshift Kubernetes adapter takes.
	Runtime client.Client
	// StartupTime is how long etcd, the apiserver and the controller took
	// to start.
	StartupTime time.Duration

	// ctx is cancelled when the test ends (before the apiserver stops).
	ctx context.Context
	// sets counts RaftSets, to name their namespaces.
	sets atomic.Int32
}

// Option configures a control plane.
type Option func(*options)

type options struct {
	flags []string
}

// WithRBAC makes the kube-apiserver authorize requests with RBAC
// (--authorization-mode=RBAC) instead of allowing everything. Config stays
// privileged (system:masters); a rest config impersonating another user is
// held to that user's RBAC grants.
func WithRBAC() Option {
	return func(o *options) { o.flags = append(o.flags, "--authorization-mode=RBAC") }
}

// Start starts etcd, the kube-apiserver and the StatefulSet controller for
// one test. Everything is stopped by t.Cleanup, the controller first.
func Start(t *testing.T, opts ...Option) *ControlPlane {
	t.Helper()
	begin := time.Now()
	quietLogs()
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	etcdURL, err := startEtcd(t)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	storage := storagebackend.NewDefaultConfig(path.Join("/e2e", strconv.FormatInt(time.Now().UnixNano(), 36), "registry"), nil)
	storage.Transport.ServerList = []string{etcdURL}

	serverOpts := kubeapiservertesting.NewDefaultTestServerOptions()
	serverOpts.DisableInvariantChecks = true
	server := kubeapiservertesting.StartTestServerOrDie(t, serverOpts, append([]string{
		// No endpoints reconciler: the loopback "external" address is not
		// a valid endpoint.
		"--endpoint-reconciler-type=none",
		// No service-account controller runs, so no token can be mounted.
		"--disable-admission-plugins=ServiceAccount",
	}, o.flags...), storage)
	t.Cleanup(server.TearDownFn)

	cfg := rest.CopyConfig(server.ClientConfig)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	rt, err := client.New(rest.CopyConfig(cfg), client.Options{})
	if err != nil {
		t.Fatalf("controller-runtime client: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(rest.AddUserAgent(cfg, "statefulset-informers")), 0)
	ssc := statefulset.NewStatefulSetController(ctx,
		factory.Core().V1().Pods(),
		factory.Apps().V1().StatefulSets(),
		factory.Core().V1().PersistentVolumeClaims(),
		factory.Apps().V1().ControllerRevisions(),
		kubernetes.NewForConfigOrDie(rest.AddUserAgent(cfg, "statefulset-controller")),
	)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ssc.Run(ctx, 2)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})

	return &ControlPlane{Config: cfg, Client: cs, Runtime: rt, ctx: ctx, StartupTime: time.Since(begin)}
}

// Context is cancelled when the test ends.
func (cp *ControlPlane) Context() context.Context { return cp.ctx }
