package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/upgrade"
)

// This file emulates what a real cluster does between reconciles: the
// StatefulSet controller (generations, revisions, partition-driven pod
// replacement one pod at a time, highest ordinal first, only while every
// pod is ready) and an OpenBao Raft cluster (membership, leadership moved
// by StepDown / TransferLeadership, health following the pods).

const (
	testNS       = "vault"
	versionLabel = "app.kubernetes.io/version"
	revLabel     = "raftshift.io/revision"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func image(v string) string { return "openbao/openbao:" + v }

func statefulSet(name, version string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "bao"}, Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "bao-internal",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bao", revLabel: name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bao", revLabel: name, versionLabel: version}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "openbao", Image: image(version)}}},
			},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))},
			},
		},
	}
}

func service(workload string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bao", Namespace: testNS},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "bao", revLabel: workload}},
	}
}

// revisionOf names the controller revision of a pod template.
func revisionOf(set string, t corev1.PodTemplateSpec) string {
	b, _ := json.Marshal(t)
	sum := sha256.Sum256(b)
	return set + "-" + hex.EncodeToString(sum[:5])
}

// cluster is the emulated cluster: the fake API server (base, not
// intercepted), the StatefulSet controller and the Raft cluster.
type cluster struct {
	metrics *Metrics
	t       *testing.T
	base    client.WithWatch
	clock   *testClock
	raft    *fakeRaft
	uidSeq  int
	// templates remembers the pod template of every revision seen.
	templates map[string]corev1.PodTemplateSpec
	// specs remembers each StatefulSet's last seen spec to bump generations.
	specs map[string]string
	// replaced lists the pods replaced because of a new revision or a
	// DeletePod, in order.
	replaced []string
	// round is the current round of drive; crashRound, when set, makes
	// every cluster write and Raft action of that round fail, as if the
	// operator crashed right after persisting the status.
	round, crashRound int
	// log is the ordered list of writes made by the reconciler (API writes
	// and Raft actions); reconcile marks the start of each Reconcile.
	log []string
}

func newCluster(t *testing.T, version string, replicas int32, leader string, targeted bool, extra ...client.Object) *cluster {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	set := statefulSet("bao", version, replicas)
	objs := append([]client.Object{set, service("bao")}, extra...)
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, clock: &testClock{t: t0}, specs: map[string]string{}, metrics: metrics,
		templates: map[string]corev1.PodTemplateSpec{}}
	// The plain object tracker: the default field-managed one deduces a
	// structured-merge-diff schema from Go types by reflection, which has
	// no uint64 (upgrade.Status.ObservedTerm); a real API server stores
	// the CRD as JSON and has no such limit.
	tracker := clienttesting.NewObjectTracker(s, serializer.NewCodecFactory(s).UniversalDecoder())
	c.base = fake.NewClientBuilder().WithScheme(s).WithObjectTracker(tracker).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.RaftUpgrade{}, &appsv1.StatefulSet{}, &corev1.Pod{}).Build()
	c.raft = &fakeRaft{c: c, leader: leader, term: 5, targeted: targeted, voters: map[string]upgrade.Suffrage{},
		stable: map[string]time.Time{}}
	for i := range replicas {
		c.raft.voters["bao-"+strconv.Itoa(int(i))] = upgrade.Voter
	}
	// Bring the cluster up: pods created, then ready, raft stable.
	c.settle()
	c.settle()
	c.clock.Advance(time.Minute)
	return c
}

// recorded returns a client for the reconciler that logs every write.
func (c *cluster) recorded(fail func(op string, obj client.Object) error) client.WithWatch {
	name := func(obj client.Object) string {
		kind := fmt.Sprintf("%T", obj)
		kind = kind[strings.LastIndex(kind, ".")+1:]
		return kind + "/" + obj.GetName()
	}
	note := func(op string, obj client.Object) error {
		c.log = append(c.log, op+" "+name(obj))
		if c.crashRound > 0 && c.round == c.crashRound && op != "status" {
			return errCrashed
		}
		if fail != nil {
			return fail(op, obj)
		}
		return nil
	}
	return interceptor.NewClient(c.base, interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := note("create", obj); err != nil {
				return err
			}
			return cl.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := note("update", obj); err != nil {
				return err
			}
			return cl.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if err := note("patch", obj); err != nil {
				return err
			}
			return cl.Patch(ctx, obj, p, opts...)
		},
		Delete: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := note("delete", obj); err != nil {
				return err
			}
			return cl.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, cl client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := note(sub, obj); err != nil {
				return err
			}
			return cl.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := note(sub+"-patch", obj); err != nil {
				return err
			}
			return cl.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
}

func (c *cluster) reconciler(cl client.Client, rec events.EventRecorder) *Reconciler {
	return &Reconciler{
		Client:   cl,
		Raft:     func(context.Context, *v1alpha1.RaftUpgrade) (RaftCluster, error) { return c.raft, nil },
		Recorder: rec,
		Clock:    c.clock.Now,
		Metrics:  c.metrics,
	}
}

func (c *cluster) reconcile(r *Reconciler, name string) (reconcile.Result, []string, error) {
	start := len(c.log)
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: name}})
	return res, slices.Clone(c.log[start:]), err
}

func (c *cluster) get(obj client.Object, name string) {
	c.t.Helper()
	if err := c.base.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: name}, obj); err != nil {
		c.t.Fatalf("get %s: %v", name, err)
	}
}

func (c *cluster) pods(set string) map[int32]*corev1.Pod {
	var list corev1.PodList
	if err := c.base.List(context.Background(), &list, client.InNamespace(testNS)); err != nil {
		c.t.Fatal(err)
	}
	out := map[int32]*corev1.Pod{}
	for i := range list.Items {
		p := &list.Items[i]
		rest, ok := strings.CutPrefix(p.Name, set+"-")
		if !ok || p.Labels[revLabel] != set {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil {
			continue
		}
		out[int32(n)] = p
	}
	return out
}

// settle runs the StatefulSet controller once over every StatefulSet.
func (c *cluster) settle() {
	c.t.Helper()
	ctx := context.Background()
	var sets appsv1.StatefulSetList
	if err := c.base.List(ctx, &sets, client.InNamespace(testNS)); err != nil {
		c.t.Fatal(err)
	}
	for i := range sets.Items {
		c.settleSet(ctx, &sets.Items[i])
	}
	// Garbage collection: pods of deleted StatefulSets go away.
	var pods corev1.PodList
	if err := c.base.List(ctx, &pods, client.InNamespace(testNS)); err != nil {
		c.t.Fatal(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		owner := p.Labels[revLabel]
		if slices.ContainsFunc(sets.Items, func(s appsv1.StatefulSet) bool { return s.Name == owner }) {
			continue
		}
		c.raft.podReplaced(p.Name)
		if err := c.base.Delete(ctx, p); err != nil {
			c.t.Fatalf("garbage-collect %s: %v", p.Name, err)
		}
	}
}

func (c *cluster) settleSet(ctx context.Context, s *appsv1.StatefulSet) {
	t := c.t
	spec, _ := json.Marshal(s.Spec)
	if prev, ok := c.specs[s.Name]; ok && prev != string(spec) {
		s.Generation++
		if err := c.base.Update(ctx, s); err != nil {
			t.Fatalf("bump generation of %s: %v", s.Name, err)
		}
	}
	c.specs[s.Name] = string(spec)
	if s.Generation == 0 {
		s.Generation = 1
	}

	update := revisionOf(s.Name, s.Spec.Template)
	c.templates[update] = *s.Spec.Template.DeepCopy()
	current := s.Status.CurrentRevision
	if current == "" {
		current = update
	}
	partition := int32(0)
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	replicas := *s.Spec.Replicas
	pods := c.pods(s.Name)
	want := func(ord int32) string {
		if ord >= partition {
			return update
		}
		return current
	}

	allReady := true
	for ord := range replicas {
		p := pods[ord]
		switch {
		case p == nil:
			c.createPod(ctx, s, ord, want(ord))
			allReady = false
		case !podReady(p):
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			p.Status.StartTime = ptr.To(metav1.NewTime(c.clock.Now()))
			if err := c.base.Status().Update(ctx, p); err != nil {
				t.Fatalf("ready %s: %v", p.Name, err)
			}
			allReady = false
		}
	}
	if allReady {
		// Replace the highest outdated ordinal admitted by the partition,
		// one pod at a time (OrderedReady).
		for ord := replicas - 1; ord >= partition; ord-- {
			p := pods[ord]
			if p.Labels[appsv1.ControllerRevisionHashLabelKey] == update {
				continue
			}
			c.raft.podReplaced(p.Name)
			if err := c.base.Delete(ctx, p); err != nil {
				t.Fatalf("delete %s: %v", p.Name, err)
			}
			c.replaced = append(c.replaced, p.Name)
			c.createPod(ctx, s, ord, update)
			break
		}
	}

	pods = c.pods(s.Name)
	st := appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: replicas,
		CurrentRevision: current, UpdateRevision: update}
	for _, p := range pods {
		if podReady(p) {
			st.ReadyReplicas++
		}
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] == update {
			st.UpdatedReplicas++
		}
	}
	if st.UpdatedReplicas == replicas {
		st.CurrentRevision = update
	}
	st.CurrentReplicas = replicas - st.UpdatedReplicas
	s.Status = st
	if err := c.base.Status().Update(ctx, s); err != nil {
		t.Fatalf("status of %s: %v", s.Name, err)
	}
}

func (c *cluster) createPod(ctx context.Context, s *appsv1.StatefulSet, ord int32, revision string) {
	c.uidSeq++
	name := s.Name + "-" + strconv.Itoa(int(ord))
	tmpl, ok := c.templates[revision]
	if !ok {
		c.t.Fatalf("no template for revision %s", revision)
	}
	tmpl = *tmpl.DeepCopy()
	labels := tmpl.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labels[appsv1.ControllerRevisionHashLabelKey] = revision
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, UID: types.UID(fmt.Sprintf("%s-uid-%d", name, c.uidSeq)), Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: s.Name,
				UID: s.UID, Controller: ptr.To(true)}},
		},
		Spec:   tmpl.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if err := c.base.Create(ctx, p); err != nil {
		c.t.Fatalf("create %s: %v", name, err)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fakeRaft is an OpenBao-like Raft cluster: membership by pod name, one
// leader, health following the pods, a stabilization clock per pod
// incarnation. StepDown elects the healthy voter with the highest
// ordinal; TransferLeadership moves to the chosen voter.
type fakeRaft struct {
	c        *cluster
	voters   map[string]upgrade.Suffrage
	leader   string
	term     uint64
	targeted bool
	// stable is when each pod incarnation (UID) was first seen healthy.
	stable map[string]time.Time
	// moves counts leadership changes.
	moves int
	// fail makes Observe fail.
	fail error
}

func (f *fakeRaft) up(m upgrade.Member) bool {
	return m.Pod.Exists && m.Pod.Ready && !m.Pod.Terminating && !m.Pod.CrashLooping
}

// Observe implements RaftCluster.
func (f *fakeRaft) Observe(_ context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	out := *obs.DeepCopy()
	out.Capabilities = upgrade.Capabilities{TargetedTransfer: f.targeted, NonVoters: true, Snapshots: true}
	if f.fail != nil {
		out.Raft = upgrade.RaftView{}
		return out, f.fail
	}
	voters, healthy := 0, 0
	for i := range out.Members {
		m := &out.Members[i]
		suffrage, present := f.voters[m.Name]
		up := f.up(*m)
		if up {
			if _, ok := f.stable[m.Pod.UID]; !ok {
				f.stable[m.Pod.UID] = obs.Now
			}
		}
		m.Raft = upgrade.MemberRaft{ID: m.Name, Address: m.Name + ".bao-internal:8201", Present: present,
			Suffrage: suffrage, Leader: m.Name == f.leader, Healthy: present && up, LastIndex: 1000, LastTerm: f.term,
			LastContact: 50 * time.Millisecond}
		if up {
			m.Raft.StableSince = f.stable[m.Pod.UID]
		}
		if present && suffrage == upgrade.Voter {
			voters++
			if m.Raft.Healthy {
				healthy++
			}
		}
	}
	out.Raft = upgrade.RaftView{Known: true, LeaderID: f.leader, Term: f.term, CommitIndex: 1000,
		FailureTolerance: int32(upgrade.FailureTolerance(voters, healthy)), AutopilotHealthy: healthy == voters}
	return out, nil
}

// Execute implements RaftCluster.
func (f *fakeRaft) Execute(_ context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	f.c.log = append(f.c.log, "raft "+string(a.Kind())+" "+memberOf(a))
	if f.c.crashRound > 0 && f.c.round == f.c.crashRound {
		return errCrashed
	}
	switch x := a.(type) {
	case upgrade.StepDown:
		if x.Member != f.leader {
			return fmt.Errorf("step-down on %s: not the leader (%s leads)", x.Member, f.leader)
		}
		var best upgrade.Member
		found := false
		for _, m := range obs.Members {
			if m.Name == f.leader || f.voters[m.Name] != upgrade.Voter || !f.up(m) {
				continue
			}
			if !found || m.Ordinal > best.Ordinal {
				best, found = m, true
			}
		}
		if !found {
			return fmt.Errorf("step-down on %s: no other voter can win an election", x.Member)
		}
		f.elect(best.Name)
		return nil
	case upgrade.TransferLeadership:
		if !f.targeted {
			return fmt.Errorf("transfer leadership: %w", errUnsupported)
		}
		if x.From != f.leader {
			return fmt.Errorf("transfer from %s: not the leader", x.From)
		}
		f.elect(x.To)
		return nil
	case upgrade.JoinNonvoter:
		if _, ok := f.voters[x.Member]; !ok {
			f.voters[x.Member] = upgrade.Nonvoter
		}
		return nil
	case upgrade.Promote:
		f.voters[x.Member] = upgrade.Voter
		return nil
	case upgrade.Demote:
		if x.Member == f.leader {
			return fmt.Errorf("demote %s: it leads", x.Member)
		}
		f.voters[x.Member] = upgrade.Nonvoter
		return nil
	case upgrade.RemovePeer:
		if x.Member == f.leader {
			return fmt.Errorf("remove %s: it leads", x.Member)
		}
		delete(f.voters, x.Member)
		return nil
	case upgrade.TakeSnapshot:
		return nil
	}
	return fmt.Errorf("%s: not a raft action", a.Kind())
}

var (
	errUnsupported = errors.New("unsupported")
	errCrashed     = errors.New("operator crashed")
)

func (f *fakeRaft) elect(name string) {
	f.leader = name
	f.term++
	f.moves++
}

// podReplaced is called by the StatefulSet emulator before it deletes a
// pod: the Raft safety rules the strategies promise must hold.
func (f *fakeRaft) podReplaced(name string) {
	t := f.c.t
	t.Helper()
	if name == f.leader {
		t.Errorf("pod %s replaced while it leads (S3)", name)
	}
}

func memberOf(a upgrade.Action) string {
	switch x := a.(type) {
	case upgrade.StepDown:
		return x.Member
	case upgrade.TransferLeadership:
		return x.From + "->" + x.To
	case upgrade.JoinNonvoter:
		return x.Member
	case upgrade.Promote:
		return x.Member
	case upgrade.Demote:
		return x.Member
	case upgrade.RemovePeer:
		return x.Member
	case upgrade.TakeSnapshot:
		return x.Name
	}
	return ""
}
