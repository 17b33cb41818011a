package upgrade

import (
	"testing"

	"github.com/Masterminds/semver/v3"
	"pgregory.net/rapid"
)

// TestVersionOlderAgreesWithSemver: the allocation-free fast path of plain
// releases decides exactly as semver.StrictNewVersion does.
func TestVersionOlderAgreesWithSemver(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.StringMatching(`v?(0|[1-9][0-9]{0,2}|0[0-9])\.(0|[1-9][0-9]?)\.(0|[1-9]|01)(-rc[0-9])?`)
		a, b := gen.Draw(t, "a"), gen.Draw(t, "b")
		want := false
		va, ea := semver.StrictNewVersion(trimV(a))
		vb, eb := semver.StrictNewVersion(trimV(b))
		if ea == nil && eb == nil {
			want = va.LessThan(vb)
		}
		if got := VersionOlder(a, b); got != want {
			t.Fatalf("VersionOlder(%q, %q) = %v, semver says %v", a, b, got, want)
		}
	})
}

func trimV(s string) string {
	if len(s) > 0 && s[0] == 'v' {
		return s[1:]
	}
	return s
}

func TestFailbackRules(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		older bool
	}{
		{"2.3.0", "2.4.0", true}, {"2.4.0", "2.3.0", false}, {"v2.3.0", "2.3.0", false},
		{"2.4.0-rc1", "2.4.0", true}, {"", "2.4.0", false}, {"latest", "2.4.0", false},
		{"2.10.0", "2.9.0", false}, {"2.9.0", "2.10.0", true},
	} {
		if got := VersionOlder(tc.a, tc.b); got != tc.older {
			t.Errorf("VersionOlder(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.older)
		}
	}
	if got := HigherVersion("2.3.0", "2.4.0"); got != "2.4.0" {
		t.Errorf("HigherVersion = %q", got)
	}
	u := &UpgradeStatus{FromVersion: "2.3.0", TargetVersion: "2.4.0", LeaderHighWater: "2.3.0"}
	if FailbackEngaged(u) {
		t.Error("engaged before the target led")
	}
	u.LeaderHighWater = "2.4.0"
	if !FailbackEngaged(u) {
		t.Error("not engaged after the target led")
	}
	u.BlueGreen = &BlueGreenProgress{RollingBack: true}
	if FailbackEngaged(u) {
		t.Error("engaged during a rollback")
	}
}
