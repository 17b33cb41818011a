package kubernetes

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/upgrade"
)

func TestLockFromLease(t *testing.T) {
	at := metav1.NewMicroTime(t0)
	tests := []struct {
		name  string
		lease *coordinationv1.Lease
		want  upgrade.LockView
	}{
		{"absent", nil, upgrade.LockView{}},
		{"free", &coordinationv1.Lease{}, upgrade.LockView{}},
		{"empty holder", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("")}}, upgrade.LockView{}},
		{"held", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("upgrade-1"), AcquireTime: &at}},
			upgrade.LockView{Holder: "upgrade-1", Since: t0}},
	}
	for _, tt := range tests {
		if got := lockFromLease(tt.lease); !got.Since.Equal(tt.want.Since) || got.Holder != tt.want.Holder {
			t.Errorf("%s: LockFromLease = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestObserver(t *testing.T) {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	other := sts("other", "x:1", "1", 1, 0)
	other.Labels = map[string]string{"app": "other"}
	otherPod := pod("other", 0, "o", "x:1", "1")
	otherPod.Labels = map[string]string{"app": "other", DefaultRevisionLabel: "other"}
	objs := []client.Object{&blue, &other, &otherPod, service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"}),
		&coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "bao" + DefaultLockSuffix, Namespace: testNS},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("upgrade-7"), AcquireTime: ptr.To(metav1.NewMicroTime(t0))},
		}}
	for i := 0; i < 2; i++ { // bao-2 is missing
		p := pod("bao", i, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1")
		objs = append(objs, &p)
	}
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	o := &Observer{Reader: c, Config: testConfig(), Clock: func() time.Time { return t0 }}
	obs, err := o.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !obs.Now.Equal(t0) || len(obs.Workloads) != 1 || obs.Workloads[0].Name != "bao" {
		t.Fatalf("obs = %+v", obs)
	}
	var names []string
	for _, m := range obs.Members {
		names = append(names, m.Name)
	}
	if d := cmp.Diff([]string{"bao-0", "bao-1", "bao-2"}, names); d != "" {
		t.Fatalf("members (-want +got):\n%s", d)
	}
	if obs.Members[2].Pod.Exists || !obs.Members[1].Pod.Ready {
		t.Fatalf("members = %+v", obs.Members)
	}
	if obs.Service.Workload != "bao" || obs.Lock.Holder != "upgrade-7" || !obs.Lock.Since.Equal(t0) {
		t.Fatalf("service = %+v lock = %+v", obs.Service, obs.Lock)
	}
	if obs.Raft != (upgrade.RaftView{}) {
		t.Fatalf("raft view must be left to the raft adapter, got %+v", obs.Raft)
	}

	// No service, no lease: both zero, no error.
	o.Config.ServiceName = "missing"
	obs, err = o.Observe(context.Background())
	if err != nil || obs.Service.Name != "" || obs.Lock.Holder != "" {
		t.Fatalf("obs = %+v, err = %v", obs, err)
	}
}
