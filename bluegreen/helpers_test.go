package bluegreen

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	fromV   = "2.3.0"
	toV     = "2.4.0"
	fromImg = "openbao/openbao:2.3.0"
	toImg   = "openbao/openbao:2.4.0"
)

var greenW = GreenName("bao", toV, toImg)

func baseSpec() Spec {
	return Spec{Version: toV, Image: toImg, Workload: "bao", Service: "bao"}
}

// member builds a healthy caught-up member.
func member(workload string, ord int, version string, suffrage upgrade.Suffrage) upgrade.Member {
	img := "openbao/openbao:" + version
	name := fmt.Sprintf("%s-%d", workload, ord)
	m := upgrade.Member{
		Name: name, Workload: workload, Ordinal: int32(ord), Version: version, Image: img, Revision: workload + "-rev",
		Pod: upgrade.PodStatus{Exists: true, UID: "uid-" + name, Phase: upgrade.PodRunning, Ready: true, StartedAt: t0.Add(-2 * time.Hour)},
		Raft: upgrade.MemberRaft{ID: name, Address: name + "." + workload + ":8201", Present: suffrage != "",
			Suffrage: suffrage, Healthy: suffrage != "", LastIndex: 5000, LastTerm: 3, StableSince: t0.Add(-time.Hour)},
	}
	return m
}

// cluster builds an observation: blue voters "bao-i" (bao-0 leads) and green
// members in the given states: "pod" (running, not joined), "nv" (caught-up
// non-voter), "v" (voter), "crash" (crash-looping pod, not joined),
// "vcrash" (crash-looping voter).
func cluster(now time.Time, blue int, green ...string) upgrade.Observation {
	o := upgrade.Observation{
		Now:     now,
		Service: upgrade.Service{Name: "bao", Workload: "bao", Selector: map[string]string{"app": "bao"}},
		Raft:    upgrade.RaftView{Known: true, LeaderID: "bao-0", Term: 3, CommitIndex: 5000, FailureTolerance: int32(blue - upgrade.Quorum(blue)), AutopilotHealthy: true},
		Lock:    upgrade.LockView{},
	}
	o.Workloads = append(o.Workloads, upgrade.Workload{Name: "bao", Replicas: int32(blue), Version: fromV, Image: fromImg,
		ReadyReplicas: int32(blue), Generation: 1, ObservedGeneration: 1})
	for i := range blue {
		m := member("bao", i, fromV, upgrade.Voter)
		m.Raft.Leader = i == 0
		o.Members = append(o.Members, m)
	}
	if len(green) > 0 {
		o.Workloads = append(o.Workloads, upgrade.Workload{Name: greenW, Replicas: int32(len(green)), Version: toV, Image: toImg,
			ReadyReplicas: int32(len(green)), Generation: 1, ObservedGeneration: 1})
		for i, s := range green {
			var m upgrade.Member
			switch s {
			case "pod":
				m = member(greenW, i, toV, "")
			case "nv":
				m = member(greenW, i, toV, upgrade.Nonvoter)
			case "v":
				m = member(greenW, i, toV, upgrade.Voter)
			case "crash":
				m = member(greenW, i, toV, "")
				m.Pod.Ready, m.Pod.CrashLooping = false, true
			case "vcrash":
				m = member(greenW, i, toV, upgrade.Voter)
				m.Pod.Ready, m.Pod.CrashLooping, m.Raft.Healthy = false, true, false
			default:
				panic(s)
			}
			o.Members = append(o.Members, m)
		}
	}
	if len(o.Workloads) == 2 && o.Workloads[1].Name < o.Workloads[0].Name {
		o.Workloads[0], o.Workloads[1] = o.Workloads[1], o.Workloads[0]
	}
	return o
}

// setLeader moves leadership in an observation.
func setLeader(o *upgrade.Observation, name string) {
	o.Raft.LeaderID = name
	for i := range o.Members {
		o.Members[i].Raft.Leader = o.Members[i].Name == name
	}
}

// inFlight returns a status in the given phase of an upgrade from fromV to
// toV started at start.
func inFlight(phase Phase, start time.Time, mut ...func(*upgrade.Status)) upgrade.Status {
	t := upgrade.Time(start)
	s := upgrade.Status{
		CurrentVersion: fromV, CurrentImage: fromImg,
		Upgrade: &upgrade.UpgradeStatus{
			Strategy: upgrade.StrategyBlueGreen, Phase: string(phase),
			FromVersion: fromV, FromImage: fromImg, TargetVersion: toV, TargetImage: toImg,
			LockHolder: DefaultLockHolder, StartedAt: t, PhaseStartedAt: t, StepStartedAt: t,
			BlueGreen: &upgrade.BlueGreenProgress{Blue: "bao", Green: greenW, BlueReplicas: 3, GreenReplicas: 3},
		},
	}
	for _, f := range mut {
		f(&s)
	}
	return s
}

func kinds(actions []upgrade.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, string(a.Kind()))
	}
	return out
}

func phaseOf(s upgrade.Status) Phase {
	if s.Upgrade == nil {
		return PhaseIdle
	}
	return Phase(s.Upgrade.Phase)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unknownView returns o with the raft view unknown, as adapters/openbao's
// Observe returned it when its read failed (Merge(obs, nil)).
func unknownView(o upgrade.Observation) upgrade.Observation {
	o = *o.DeepCopy()
	o.Raft = upgrade.RaftView{}
	for i := range o.Members {
		o.Members[i].Raft = upgrade.MemberRaft{ID: o.Members[i].Raft.ID, Address: o.Members[i].Raft.Address}
	}
	return o
}

// partialView returns o with the named member's raft state unknown.
func partialView(o upgrade.Observation, name string) upgrade.Observation {
	o = *o.DeepCopy()
	for i := range o.Members {
		if o.Members[i].Name == name {
			o.Members[i].Raft = upgrade.MemberRaft{ID: o.Members[i].Raft.ID, Unknown: true, Present: true, Suffrage: o.Members[i].Raft.Suffrage}
		}
	}
	return o
}
