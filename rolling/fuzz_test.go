package rolling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// bytesSource turns fuzz input into choices.
type bytesSource struct {
	b []byte
	n int
}

// byte returns the next input byte; once drained, a fixed pseudo-random
// sequence (so short inputs still describe ordinary clusters).
func (s *bytesSource) byte() byte {
	if len(s.b) == 0 {
		s.n++
		return byte(s.n*37 + 11)
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *bytesSource) bool() bool { return s.byte()&1 == 1 }

func (s *bytesSource) intn(n int) int { return int(s.byte()) % n }

func (s *bytesSource) pick(options ...string) string { return options[s.intn(len(options))] }

// rare is true for about one input in sixteen.
func (s *bytesSource) rare() bool { return s.intn(32) == 0 }

// usually returns normal, or one of the odd values rarely.
func (s *bytesSource) usually(normal string, odd ...string) string {
	if s.rare() {
		return s.pick(odd...)
	}
	return normal
}

// str returns one of a few meaningful strings or a short raw string.
func (s *bytesSource) str(options ...string) string {
	if s.intn(8) == 0 {
		n := s.intn(6)
		b := make([]byte, 0, n)
		for range n {
			b = append(b, s.byte())
		}
		return string(b)
	}
	return s.pick(options...)
}

var fuzzVersions = []string{"2.3.0", "2.4.0", "2.4.1", "2.2.0", "3.0.0", "2.4", "v2.4.0", "2.4.0-rc.1", ""}

// decodeInput builds a small spec, observation and status from fuzz bytes.
func decodeInput(data []byte) (Spec, upgrade.Observation, upgrade.Status) {
	s := &bytesSource{b: data}
	versions := fuzzVersions
	ver := func() string { return s.str(versions...) }
	image := func(v string) string {
		if s.rare() {
			return s.pick("", "openbao/openbao:"+ver(), "openbao/openbao:latest")
		}
		return "openbao/openbao:" + v
	}
	spec := Spec{Version: s.usually(s.pick("2.4.0", "2.4.1", "2.3.0"), fuzzVersions...)}
	spec.Image = image(spec.Version)
	spec.AllowDowntime = s.bool()
	spec.Snapshot = s.intn(4) == 0
	spec.Rules.AllowDowngrade = s.intn(4) == 0
	spec.Rules.AllowSkipMinor = s.intn(4) == 0
	spec.Prerequisites.RequireBackup = s.intn(4) == 0
	spec.StepTimeout.Duration = time.Duration(s.intn(5)) * time.Minute
	if s.rare() {
		spec.StepTimeout.Duration = -time.Second
	}
	spec.RetryNonce = s.pick("", "", "r1", "r2")
	spec.Workload = s.usually("", "bao", "other")
	spec.LockHolder = s.pick("", "", "me")

	n := 1 + s.intn(5)
	revs := []string{"bao-old", "bao-new", "bao-x", ""}
	now := t0.Add(time.Duration(s.intn(200)) * time.Second)
	o := upgrade.Observation{Now: now}
	if s.rare() {
		o.Now = time.Time{}
	}
	w := upgrade.Workload{
		Name: s.usually("bao", "other"), Replicas: int32(n), Partition: int32(s.intn(n + 2)),
		CurrentRevision: s.pick(revs...), UpdateRevision: s.pick(revs...),
		Generation: int64(s.intn(3)), ObservedGeneration: int64(s.intn(3)),
		Version: s.pick("2.3.0", "2.4.0", "2.4.1"),
	}
	if s.rare() {
		w.Replicas += int32(s.intn(3)) - 1
	}
	w.Image = image(w.Version)
	o.Workloads = []upgrade.Workload{w}
	if s.rare() {
		o.Workloads = append(o.Workloads, upgrade.Workload{Name: "zz", Replicas: 1})
	}
	leader := s.intn(n + 1)
	for i := range n {
		name := fmt.Sprintf("bao-%d", i)
		v := ver()
		m := upgrade.Member{
			Name: name, Workload: s.usually("bao", "", "zz"), Ordinal: int32(i),
			Revision: s.pick(revs...), Version: v, Image: image(v),
			Pod: upgrade.PodStatus{Exists: s.intn(8) != 0, UID: fmt.Sprintf("%s-%d", name, s.intn(3)), Ready: s.intn(6) != 0,
				Terminating: s.intn(10) == 0, CrashLooping: s.intn(10) == 0},
			Raft: upgrade.MemberRaft{ID: name, Present: s.intn(10) != 0, Suffrage: upgrade.Suffrage(s.pick("Voter", "Voter", "Voter", "Nonvoter")),
				Leader: i == leader, Healthy: s.intn(6) != 0, LastIndex: uint64(2000 - 100*s.intn(20)), LastTerm: uint64(3 - s.intn(2)),
				LastContact: time.Duration(s.intn(20)) * time.Second, StableSince: now.Add(-time.Duration(s.intn(30)) * time.Second)},
		}
		o.Members = append(o.Members, m)
	}
	o.Raft = upgrade.RaftView{Known: !s.rare(), Term: uint64(s.intn(5)), FailureTolerance: int32(s.intn(3)), AutopilotHealthy: s.intn(4) != 0}
	if leader < n && !s.rare() {
		o.Raft.LeaderID = fmt.Sprintf("bao-%d", leader)
	}
	o.Lock.Holder = s.pick("", "", DefaultLockHolder, "me", "backup")
	o.Backup = upgrade.BackupView{Configured: s.bool(), LastSuccess: now.Add(-time.Duration(s.intn(600)) * time.Second), InProgress: s.intn(6) == 0}
	o.Capabilities = upgrade.Capabilities{TargetedTransfer: s.bool(), Snapshots: s.bool()}

	st := upgrade.Status{CurrentVersion: s.usually("2.3.0", "2.4.0", "", "x"), CurrentImage: s.usually("openbao/openbao:2.3.0", "")}
	st.ObservedTerm = uint64(s.intn(5))
	st.LastStepTime = upgrade.Time(t0.Add(time.Duration(s.intn(200)-180) * time.Second))
	st.Handled.Retry = s.pick("", "r1")
	if s.intn(3) != 0 {
		phases := table.Phases()[1:] // without Idle
		if s.rare() {
			phases = []Phase{"", "Bogus"}
		}
		start := upgrade.Time(now.Add(-time.Duration(s.intn(3600)) * time.Second))
		st.Upgrade = &upgrade.UpgradeStatus{
			Strategy: upgrade.Strategy(s.usually("Rolling", "BlueGreen")),
			Phase:    string(phases[s.intn(len(phases))]), FromVersion: st.CurrentVersion, FromImage: st.CurrentImage,
			TargetVersion: s.usually(s.pick("2.4.0", "2.4.1"), fuzzVersions...), LockHolder: s.usually(DefaultLockHolder, "me", ""),
			StartedAt: start, PhaseStartedAt: start, StepStartedAt: start,
		}
		st.Upgrade.TargetImage = image(st.Upgrade.TargetVersion)
		if s.intn(6) == 0 {
			st.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop, Reason: upgrade.ReasonPodCrashLooping}
		}
		if !s.rare() {
			st.Upgrade.Rolling = &upgrade.RollingProgress{
				Workload: s.usually("bao", "other"), Replicas: int32(n),
				Ordinal: int32(s.intn(n+1) - 1), RestartedUID: fmt.Sprintf("bao-%d-%d", s.intn(n), s.intn(3)),
				DeletedUID: s.pick("", "bao-0-0"), Snapshot: s.pick("", "snap"),
			}
		}
	}
	// Maintenance windows and pause, drawn last so earlier inputs keep
	// their meaning: meaningful and malformed schedules, durations around
	// the step room, and a recorded hold.
	spec.Paused = s.intn(4) == 0
	for range s.intn(3) {
		spec.MaintenanceWindows = append(spec.MaintenanceWindows, upgrade.MaintenanceWindow{
			Schedule: s.str("0 12 * * *", "*/5 * * * *", "0 2 * * *", "@daily", "@every 1h", "0 0 31 2 *", "61 * * * *", "TZ=UTC 0 2 * * *", ""),
			Duration: metav1.Duration{Duration: time.Duration(s.intn(40)-2) * time.Minute},
		})
	}
	if u := st.Upgrade; u != nil && s.intn(4) == 0 {
		u.Held = &upgrade.Pause{Gate: upgrade.GateName(s.pick(string(upgrade.GatePaused), string(upgrade.GateMaintenanceWindow), "")),
			Reason: upgrade.ReasonOutsideWindow, Since: u.StartedAt}
	}
	return spec, o, st
}

func FuzzStep(f *testing.F) {
	for i := range 64 {
		seed := make([]byte, 96)
		for j := range seed {
			seed[j] = byte(i*31 + j*17)
		}
		f.Add(seed)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, obs, st := decodeInput(data)
		obsCopy, stCopy := obs.DeepCopy(), st.DeepCopy()
		d, err := Step(spec, obs, st)
		if !reflect.DeepEqual(*obsCopy, obs) || !reflect.DeepEqual(*stCopy, st) {
			t.Fatal("Step mutated its inputs")
		}
		if err != nil {
			if len(d.Actions) > 0 {
				t.Fatalf("actions returned with an error: %v", err)
			}
			return
		}
		if s, err := spec.withDefaults(); err == nil {
			held := check.Held(s.Paused, s.MaintenanceWindows, s.stepRoom(), obs.Now)
			if _, err := check.RollingHold(held, s.Paused, obs, st, d); err != nil {
				t.Fatal(err)
			}
		}
		voters := len(obs.Voters())
		safe := upgrade.Safety{CatchUp: spec.CatchUp, AllowDowntime: spec.AllowDowntime && voters <= 2}
		if err := safe.Check(obs, d.Actions); err != nil {
			t.Fatalf("unsafe actions: %v\n%s", err, upgrade.FormatActions(d.Actions))
		}
		if !safe.AllowDowntime {
			if err := (upgrade.Safety{}).Check(obs, d.Actions); err != nil {
				t.Fatalf("unsafe actions: %v\n%s", err, upgrade.FormatActions(d.Actions))
			}
		}
		if _, err := json.Marshal(d.Status); err != nil {
			t.Fatalf("status does not marshal: %v", err)
		}
	})
}
