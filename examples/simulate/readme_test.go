package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/rolling"
)

var update = flag.Bool("update", false, "rewrite the generated sections of README.md")

// TestReadmeDiagrams keeps the phase diagrams in README.md identical to the
// ones generated from the strategies' transition tables.
func TestReadmeDiagrams(t *testing.T) {
	const path = "../../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	rt, bt := rolling.Table(), bluegreen.Table()
	for _, d := range []struct{ name, mermaid string }{
		{"rolling", rt.Mermaid()},
		{"bluegreen", bt.Mermaid()},
	} {
		begin, end := "<!-- mermaid:"+d.name+" -->\n", "<!-- /mermaid:"+d.name+" -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Fatalf("README.md lacks the %q and %q markers", strings.TrimSpace(begin), end)
		}
		want := "```mermaid\n" + d.mermaid + "```\n"
		got := readme[i+len(begin) : j]
		if got == want {
			continue
		}
		if !*update {
			t.Errorf("README.md %s diagram is stale; run go test ./examples/simulate -run TestReadmeDiagrams -update", d.name)
			continue
		}
		readme = readme[:i+len(begin)] + want + readme[j:]
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
