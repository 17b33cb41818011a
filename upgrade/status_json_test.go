package upgrade_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// filledStatus is a Status with every field set (times at second precision).
func filledStatus(t testing.TB) upgrade.Status {
	var s upgrade.Status
	(&filler{t: t}).fill(reflect.ValueOf(&s).Elem(), "Status")
	return s
}

func TestStatusJSONRoundTrip(t *testing.T) {
	for name, s := range map[string]upgrade.Status{
		"zero":   {},
		"filled": filledStatus(t),
		"idle": {CurrentVersion: "2.4.0", CurrentImage: "openbao/openbao:2.4.0",
			LastResult: &upgrade.Result{Outcome: upgrade.OutcomeSucceeded, StartedAt: upgrade.Time(now), FinishedAt: upgrade.Time(now.Add(time.Minute))}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var got upgrade.Status
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if diff := cmp.Diff(s, got); diff != "" {
				t.Errorf("round trip differs (-want +got):\n%s\njson: %s", diff, b)
			}
			b2, _ := json.Marshal(got)
			if !bytes.Equal(b, b2) {
				t.Errorf("re-encoding differs:\n%s\n%s", b, b2)
			}
		})
	}
}

func TestStatusJSONSecondPrecision(t *testing.T) {
	sub := now.Add(987654321 * time.Nanosecond).In(time.FixedZone("X", 3600))
	s := upgrade.Status{
		LastStepTime: metav1.NewTime(sub),
		Upgrade:      &upgrade.UpgradeStatus{StartedAt: upgrade.Time(sub), PhaseStartedAt: metav1.NewTime(sub)},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got upgrade.Status
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := now // truncated to the second, instant preserved across zones
	for name, ts := range map[string]metav1.Time{
		"LastStepTime": got.LastStepTime, "StartedAt": got.Upgrade.StartedAt, "PhaseStartedAt": got.Upgrade.PhaseStartedAt,
	} {
		if !ts.Equal(&metav1.Time{Time: want}) {
			t.Errorf("%s = %v, want %v", name, ts, want)
		}
	}
	// upgrade.Time produces exactly what survives the round trip.
	if u := upgrade.Time(sub); !u.Equal(&got.LastStepTime) || u.Location() != time.UTC || u.Nanosecond() != 0 {
		t.Errorf("upgrade.Time(%v) = %v", sub, u)
	}
	if !strings.Contains(string(b), `"lastStepTime":"2026-03-04T05:06:07Z"`) {
		t.Errorf("lastStepTime not RFC 3339 UTC at second precision: %s", b)
	}
}

func TestStatusJSONTags(t *testing.T) {
	// Every exported field reachable from Status has a lowerCamel JSON name,
	// so the status embeds in a CRD with stable field names.
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[upgrade.Status]().PkgPath() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := strings.Split(f.Tag.Get("json"), ",")[0]
			if tag == "" || tag == "-" || strings.ToLower(tag[:1]) != tag[:1] {
				t.Errorf("%s.%s has JSON tag %q", path, f.Name, f.Tag.Get("json"))
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[upgrade.Status](), "Status")
	walk(reflect.TypeFor[upgrade.Observation](), "Observation")
}

// unixSeconds compares metav1.Time at the precision JSON keeps.
var unixSeconds = cmp.Comparer(func(a, b metav1.Time) bool { return a.Unix() == b.Unix() })

// representable reports whether every timestamp in s lies in years
// 0000-9999 UTC. metav1.Time (k8s.io/apimachinery) encodes any time as
// RFC 3339 in UTC but decodes only four-digit years, so a time decoded with
// an offset that pushes it past 9999-12-31T23:59:59Z (or before
// 0000-01-01T00:00:00Z) encodes to text it cannot decode. Strategies only
// write times derived from Observation.Now, which never gets there.
func representable(s *upgrade.Status) bool {
	ok := true
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		if v.Type() == timeType {
			if y := v.Interface().(time.Time).UTC().Year(); y < 0 || y > 9999 {
				ok = false
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(s).Elem())
	return ok
}

// FuzzStatusJSON checks that decoding arbitrary bytes into a Status never
// panics, and that a decoded status re-encodes and re-decodes to an equal
// value (timestamps at the one-second precision JSON keeps), stably, and
// survives DeepCopy.
func FuzzStatusJSON(f *testing.F) {
	filled, err := json.Marshal(filledStatus(f))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(filled), `{}`, `null`, `[]`, `{"upgrade":null}`, `{"conditions":[]}`,
		`{"lastStepTime":"2026-01-02T03:04:05.999999999+05:30"}`,
		`{"lastStepTime":"0001-01-01T00:00:00Z"}`,
		`{"lastStepTime":"9999-12-31T23:59:59-01:00"}`, // not representable: see representable
		`{"upgrade":{"strategy":"Rolling","phase":"Restarting","rolling":{"workload":"raft","ordinal":-1},"failures":2147483647}}`,
		`{"breakGlass":{"nonce":"n","recoverySteps":["a","\u00e9"],"enteredAt":"2026-01-02T03:04:05Z"}}`,
		`{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-02T03:04:05Z","reason":"R","message":"m","observedGeneration":-1}]}`,
		`{"currentVersion":"\xff\xfe","handled":{"retry":"x"},"observedTerm":18446744073709551615}`,
		`{"CurrentVersion":"case-insensitive","currentVersion":"dup"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s upgrade.Status
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		if !representable(&s) {
			return // see representable: a metav1.Time limitation, not ours
		}
		b1, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("Marshal of a decoded status: %v", err)
		}
		var s2 upgrade.Status
		if err := json.Unmarshal(b1, &s2); err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		// omitempty drops empty slices: [] and nil are the same status.
		if diff := cmp.Diff(s, s2, unixSeconds, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
		b2, err := json.Marshal(&s2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable: %v\n%s\n%s", err, b1, b2)
		}
		if diff := cmp.Diff(s2, *s2.DeepCopy()); diff != "" {
			t.Fatalf("DeepCopy differs:\n%s", diff)
		}
	})
}
