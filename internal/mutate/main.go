// Command mutate is raftshift's mutation harness: it applies a fixed list
// of small, realistic bugs (mutants) to the safety rules, the catch-up test,
// the strategies and the version policy, one at a time, in a copy of the
// module, runs the tests that must catch each one with the golden-file
// tests skipped (a kill must come from a property or a behavioural test,
// never from a golden file alone), and prints the score and the survivors.
//
// It is a command, not part of every CI run:
//
//	go run ./internal/mutate                 # every mutant
//	go run ./internal/mutate -run 'leader'   # mutants whose name matches
//	go run ./internal/mutate -from 18        # mutants 18 and after
//
// RAPID_CHECKS (default 100 here, rapid's own default) sets the property
// tests' case count. The copy runs with GOWORK=off, so only the root
// module's rapid reads it: v1.3.0 and later (before, every run was at 100
// whatever the variable said).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	run := flag.String("run", "", "only mutants whose name matches this regular expression")
	from := flag.Int("from", 1, "start at this mutant number")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on each mutant's test run")
	flag.Parse()
	if err := mutate(os.Stdout, *run, *from, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

// skip are the tests that only compare against golden files or generated
// documents: a mutant they alone catch counts as a survivor.
const skip = "Golden|Scenarios|Testdata|Readme|Diagram|Mermaid"

func mutate(w io.Writer, filter string, from int, timeout time.Duration) error {
	re, err := regexp.Compile(filter)
	if err != nil {
		return fmt.Errorf("bad -run: %w", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, m := range mutants {
		raw, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			return err
		}
		if n := bytes.Count(raw, []byte(m.Old)); n != 1 {
			return fmt.Errorf("mutant %q: its snippet occurs %d times in %s, want once", m.Name, n, m.File)
		}
	}
	work, err := os.MkdirTemp("", "raftshift-mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := copyModule(root, work); err != nil {
		return err
	}
	checks := os.Getenv("RAPID_CHECKS")
	if checks == "" {
		checks = "100"
	}
	var killed, total int
	var survivors, broken []string
	start := time.Now()
	fmt.Fprintf(w, "%-4s %-52s %-9s %s\n", "#", "mutant", "result", "killed by")
	for i, m := range mutants {
		if i+1 < from || !re.MatchString(m.Name) {
			continue
		}
		total++
		path := filepath.Join(work, m.File)
		orig, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.Old), []byte(m.New), 1), 0o644); err != nil {
			return err
		}
		out, failed := goTest(work, m.Packages, checks, timeout)
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			return err
		}
		by := failingTests(out)
		result := "SURVIVED"
		switch {
		case failed && strings.Contains(out, "[build failed]"):
			result = "BROKEN"
			broken = append(broken, m.Name)
			by = []string{"(does not compile)"}
		case failed:
			result = "killed"
			killed++
		default:
			survivors = append(survivors, m.Name)
		}
		fmt.Fprintf(w, "%-4d %-52s %-9s %s\n", i+1, m.Name, result, strings.Join(by, ", "))
	}
	fmt.Fprintf(w, "\nscore: %d of %d mutants killed by property or behavioural tests (golden-file tests skipped), %s\n",
		killed, total, time.Since(start).Round(time.Second))
	if len(broken) > 0 {
		fmt.Fprintf(w, "broken (fix the mutant): %s\n", strings.Join(broken, "; "))
	}
	if len(survivors) > 0 {
		fmt.Fprintf(w, "survivors: %s\n", strings.Join(survivors, "; "))
	}
	if len(survivors)+len(broken) > 0 {
		return fmt.Errorf("%d mutants survived, %d do not compile", len(survivors), len(broken))
	}
	return nil
}

// goTest runs the packages' tests in dir and reports the output and whether
// they failed.
func goTest(dir string, pkgs []string, checks string, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"test", "-count=1", "-skip", skip}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RAPID_CHECKS="+checks, "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err != nil
}

var failRE = regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)

// failingTests lists the top-level tests that failed.
func failingTests(out string) []string {
	var names []string
	for _, m := range failRE.FindAllStringSubmatch(out, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}

// moduleRoot is the directory of the root module (go env GOMOD).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// copyModule copies the root module's files (not the nested modules, not
// version control) into dst.
func copyModule(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" && strings.Contains(rel, "rapid")) {
				return filepath.SkipDir
			}
			if rel != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
}
