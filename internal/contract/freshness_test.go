package contract_test

import (
	"testing"
	"time"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

func TestCheckFresh(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	acted := upgrade.Status{LastStepTime: upgrade.Time(t0), ObservedTerm: 5}
	for _, tc := range []struct {
		name   string
		now    time.Time
		term   uint64
		known  bool
		status upgrade.Status
		want   upgrade.Reason
	}{
		{"never acted", t0, 1, true, upgrade.Status{}, ""},
		{"next second", t0.Add(time.Second), 5, true, acted, ""},
		// No one-second rule any more: expectations decide (CheckExpected).
		{"same second, later", t0.Add(900 * time.Millisecond), 5, true, acted, ""},
		{"same instant", t0, 5, true, acted, ""},
		{"older", t0.Add(-3 * time.Second), 5, true, acted, upgrade.ReasonObservationNotNewer},
		{"term regressed", t0.Add(time.Second), 4, true, acted, upgrade.ReasonTermRegressed},
		{"term unknown is not held", t0.Add(time.Second), 0, false, acted, ""},
		{"higher term", t0.Add(time.Second), 9, true, acted, ""},
	} {
		obs := upgrade.Observation{Now: tc.now, Raft: upgrade.RaftView{Known: tc.known, Term: tc.term}}
		g := contract.CheckFresh(&obs, &tc.status)
		switch {
		case tc.want == "" && g != nil:
			t.Errorf("%s: refused: %v", tc.name, g)
		case tc.want != "" && (g == nil || g.Reason != tc.want || g.Name != upgrade.GateStaleObservation):
			t.Errorf("%s: gate %v, want %s", tc.name, g, tc.want)
		}
	}
}

func TestRecordStep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 500, time.UTC)
	var st upgrade.Status
	contract.RecordStep(&st, &upgrade.Observation{Now: t0, Raft: upgrade.RaftView{Known: true, Term: 7}})
	if !st.LastStepTime.Time.Equal(t0.Truncate(time.Second)) || st.ObservedTerm != 7 {
		t.Fatalf("status %+v", st)
	}
	contract.RecordTerm(&st, &upgrade.Observation{Raft: upgrade.RaftView{Known: true, Term: 3}})
	contract.RecordTerm(&st, &upgrade.Observation{Raft: upgrade.RaftView{Known: false, Term: 99}})
	if st.ObservedTerm != 7 {
		t.Fatalf("term went backwards or took an unknown view: %d", st.ObservedTerm)
	}
}

func TestTimeCeil(t *testing.T) {
	whole := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	frac := whole.Add(800 * time.Millisecond)
	if got := contract.TimeCeil(frac).Time; !got.Equal(whole.Add(time.Second)) {
		t.Errorf("TimeCeil(%v) = %v, want %v", frac, got, whole.Add(time.Second))
	}
	if got := contract.TimeCeil(whole).Time; !got.Equal(whole) {
		t.Errorf("TimeCeil(%v) = %v, want unchanged", whole, got)
	}
}
