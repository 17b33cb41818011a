package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// liveObservation reads a running etcd cluster through the etcd adapter and
// returns the Observation a host would build, for examples/plan: each etcd
// member stands for a running, ready pod of one workload (there is no
// Kubernetes here), named by the member's name, at the etcd version its
// status reports, with image image:<version>. The workload's template is
// the oldest version a member runs; its update strategy is OnDelete.
// Members paired by name need names ending in their ordinal ("etcd-0").
func liveObservation(ctx context.Context, endpoints []string, workload, image string, now time.Time) (upgrade.Observation, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return upgrade.Observation{}, fmt.Errorf("client for %s: %w", strings.Join(endpoints, ","), err)
	}
	defer cli.Close()
	ad := &etcd.Adapter{Client: cli}
	st, err := ad.Read(ctx)
	if err != nil {
		return upgrade.Observation{}, fmt.Errorf("read the cluster: %w", err)
	}
	if st.List == nil {
		return upgrade.Observation{}, fmt.Errorf("read the cluster: no member list")
	}
	versions := map[uint64]string{}
	for _, e := range st.Endpoints {
		if e.Status != nil {
			versions[e.MemberID] = e.Status.Version
		}
	}
	obs := upgrade.Observation{Now: now.UTC(), Service: upgrade.Service{Name: workload, Workload: workload}}
	oldest := ""
	for _, m := range st.List.Members {
		i := strings.LastIndexByte(m.Name, '-')
		ord, err := strconv.Atoi(m.Name[i+1:])
		if m.Name == "" || i < 0 || err != nil {
			return upgrade.Observation{}, fmt.Errorf("member %x: name %q does not end in an ordinal (<workload>-<n>)", m.ID, m.Name)
		}
		v := versions[m.ID]
		pod := upgrade.PodStatus{Exists: true, UID: fmt.Sprintf("member-%x", m.ID), Phase: upgrade.PodRunning}
		pod.Running, pod.Ready = v != "", v != ""
		obs.Members = append(obs.Members, upgrade.Member{Name: m.Name, Workload: workload, Ordinal: int32(ord),
			Version: v, Image: image + ":" + v, Revision: workload + "-" + v, Pod: pod})
		if v != "" && (oldest == "" || olderVersion(v, oldest)) {
			oldest = v
		}
	}
	slices.SortFunc(obs.Members, func(a, b upgrade.Member) int { return int(a.Ordinal - b.Ordinal) })
	w := upgrade.Workload{Name: workload, UpdateStrategy: upgrade.UpdateOnDelete, Replicas: int32(len(obs.Members)),
		Image: image + ":" + oldest, Version: oldest, CurrentRevision: workload + "-" + oldest, UpdateRevision: workload + "-" + oldest}
	for _, m := range obs.Members {
		if m.Pod.Ready {
			w.ReadyReplicas++
		}
		if m.Version == oldest {
			w.UpdatedReplicas++
		}
	}
	obs.Workloads = []upgrade.Workload{w}
	return ad.Merge(obs, st), nil
}

// olderVersion compares dotted numeric versions ("3.7.3" < "3.10.0").
func olderVersion(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// printObservation writes obs as indented JSON.
func printObservation(out io.Writer, obs upgrade.Observation) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(obs)
}
