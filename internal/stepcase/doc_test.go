package stepcase_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/internal/stepcase"
	"github.com/raftshift/raftshift/upgrade"
)

type spec struct {
	Version string `json:"version"`
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	obs := upgrade.Observation{Now: now, Members: []upgrade.Member{{Name: "bao-0", Raft: upgrade.MemberRaft{Present: true, LastContact: time.Second}}}}
	st := upgrade.Status{CurrentVersion: "2.3.0"}
	d, err := stepcase.Write(dir, "Leader at 0: moves last!", spec{Version: "2.4.0"}, obs, st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d, "leader_at_0_moves_last") {
		t.Fatalf("dir %s", d)
	}
	var gotSpec spec
	var gotObs upgrade.Observation
	var gotSt upgrade.Status
	if err := stepcase.Read(d, &gotSpec, &gotObs, &gotSt); err != nil {
		t.Fatal(err)
	}
	if gotSpec.Version != "2.4.0" || !gotObs.Now.Equal(now) || gotObs.Members[0].Raft.LastContact != time.Second || gotSt.CurrentVersion != "2.3.0" {
		t.Fatalf("round trip: %+v %+v %+v", gotSpec, gotObs, gotSt)
	}
	dirs, err := stepcase.Dirs(dir)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("dirs %v %v", dirs, err)
	}
}

func TestRender(t *testing.T) {
	d := upgrade.Decision{Actions: []upgrade.Action{upgrade.StepDown{Member: "bao-0"}},
		Events: []upgrade.Event{{Type: upgrade.EventNormal, Reason: "R", Message: "m"}}, RequeueAfter: time.Second}
	got := stepcase.Render(d, nil)
	for _, want := range []string{`"StepDown: step down leader bao-0"`, `"event Normal R: m"`, `"requeueAfter": "1s"`} {
		if !strings.Contains(got, want) {
			t.Errorf("render lacks %s:\n%s", want, got)
		}
	}
	bad := stepcase.Render(upgrade.Decision{}, errors.Join(errors.New("x"), upgrade.ErrInvalidSpec))
	if !strings.Contains(bad, `"errorKind": "invalid spec"`) {
		t.Errorf("error kind missing:\n%s", bad)
	}
}
