// Package stepcase stores the inputs of Step table cases as data: one
// directory per case, testdata/step/<case>/{spec,observation,status}.json,
// beside the decision Step made from them (decision.golden), the way etcd's
// raft and raft-autopilot keep their test scenarios. The strategies' tests
// write the directories from their Go tables with -update and replay every
// directory from the files alone, so a case can be read, reviewed and
// edited as data, and a change of decision shows as a golden diff.
package stepcase

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// File names inside a case directory.
const (
	SpecFile        = "spec.json"
	ObservationFile = "observation.json"
	StatusFile      = "status.json"
	DecisionFile    = "decision.golden"
)

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// Slug turns a case name into a directory name: lower case, words joined
// by underscores.
func Slug(name string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(name), "_"), "_")
}

// Write stores the inputs of a case in dir/<Slug(name)>.
func Write(dir, name string, spec any, obs upgrade.Observation, status upgrade.Status) (string, error) {
	d := filepath.Join(dir, Slug(name))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	for file, v := range map[string]any{SpecFile: spec, ObservationFile: obs, StatusFile: status} {
		raw, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return "", fmt.Errorf("encode %s of %s: %w", file, name, err)
		}
		if err := os.WriteFile(filepath.Join(d, file), append(raw, '\n'), 0o644); err != nil {
			return "", err
		}
	}
	return d, nil
}

// Read loads the inputs of the case in dir; spec must be a pointer. Unknown
// fields are errors, so a typo in a hand-edited case fails loudly.
func Read(dir string, spec any, obs *upgrade.Observation, status *upgrade.Status) error {
	for file, v := range map[string]any{SpecFile: spec, ObservationFile: obs, StatusFile: status} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("decode %s: %w", filepath.Join(dir, file), err)
		}
	}
	return nil
}

// Dirs lists the case directories under dir, sorted.
func Dirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// decision is the stored form of a Decision.
type decision struct {
	Error        string         `json:"error,omitempty"`
	ErrorKind    string         `json:"errorKind,omitempty"`
	Actions      []string       `json:"actions,omitempty"`
	Events       []string       `json:"events,omitempty"`
	Gate         *upgrade.Gate  `json:"gate,omitempty"`
	RequeueAfter string         `json:"requeueAfter,omitempty"`
	Status       upgrade.Status `json:"status"`
}

// Render is the golden form of what Step returned: its error (and which
// upgrade sentinel it wraps), its actions and events as text, its gate,
// requeue and status.
func Render(d upgrade.Decision, err error) string {
	out := decision{Gate: d.Gate, Status: d.Status}
	if err != nil {
		out.Error = err.Error()
		for _, s := range []error{upgrade.ErrInvalidSpec, upgrade.ErrInvalidStatus, upgrade.ErrInvalidObservation,
			upgrade.ErrIllegalTransition, upgrade.ErrUnsafe} {
			if errors.Is(err, s) {
				out.ErrorKind = s.Error()
			}
		}
	}
	for _, a := range d.Actions {
		out.Actions = append(out.Actions, string(a.Kind())+": "+a.String())
	}
	for _, e := range d.Events {
		out.Events = append(out.Events, e.String())
	}
	if d.RequeueAfter != 0 {
		out.RequeueAfter = d.RequeueAfter.String()
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err) // a Decision always encodes
	}
	return string(raw) + "\n"
}

// Case is one Step table case: a name and the inputs Step decides from.
type Case[S any] struct {
	Name   string
	Spec   S
	Obs    upgrade.Observation
	Status upgrade.Status
}

// StepFunc is a strategy's Step.
type StepFunc[S any] func(S, upgrade.Observation, upgrade.Status) (upgrade.Decision, error)

// Run is the body of a strategy's TestStepTestdata. With update it first
// rewrites dir from cases (refusing two cases with one directory name);
// then it replays every directory of dir from its files alone and compares
// the decision with decision.golden. It fails when dir holds fewer cases
// than the table.
func Run[S any](t *testing.T, dir string, update bool, cases []Case[S], step StepFunc[S]) {
	t.Helper()
	if update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, c := range cases {
			if other, dup := seen[Slug(c.Name)]; dup {
				t.Fatalf("cases %q and %q share a directory name", other, c.Name)
			}
			seen[Slug(c.Name)] = c.Name
			d, err := Write(dir, c.Name, c.Spec, c.Obs, c.Status)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, DecisionFile), []byte(Render(step(c.Spec, c.Obs, c.Status))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dirs, err := Dirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < len(cases) {
		t.Fatalf("%d case directories for %d table cases: run the test with -update", len(dirs), len(cases))
	}
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) {
			var spec S
			var obs upgrade.Observation
			var st upgrade.Status
			if err := Read(d, &spec, &obs, &st); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(d, DecisionFile))
			if err != nil {
				t.Fatal(err)
			}
			if got := Render(step(spec, obs, st)); got != string(want) {
				t.Errorf("decision differs from %s (run with -update to accept):\n%s", d, got)
			}
		})
	}
}
