package main

import (
	"fmt"
	"html"
	"os"
	"slices"
	"strings"

	"github.com/raftshift/raftshift/fake/host"
)

// writeSVG draws the run as members x time: one row per member, one column
// per tick; the cell colour is the member's version, pale while the member
// is down, with a black stripe while it leads; a thin bar under the cell
// marks a voter, a dashed one a non-voter. Phase changes are marked on top.
func writeSVG(path string, h *host.Host) error {
	if err := os.WriteFile(path, []byte(renderSVG(h)), 0o644); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

func renderSVG(h *host.Host) string {
	const row, left, top = 22, 110, 70
	cell := max(2, 960/max(1, len(h.Entries)))
	var names, versions []string
	for _, e := range h.Entries {
		for _, m := range e.Observation.Members {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
			if m.Version != "" && !slices.Contains(versions, m.Version) {
				versions = append(versions, m.Version)
			}
		}
	}
	palette := []string{"#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#e15759", "#76b7b2"}
	color := func(v string) string { return palette[slices.Index(versions, v)%len(palette)] }
	width := max(left+cell*len(h.Entries)+20, 900)
	height := top + row*len(names) + 40 + 18*len(versions)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13">raftshift timeline (%d s)</text>`+"\n", left, len(h.Entries))
	for i, n := range names {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", top+row*i+12, html.EscapeString(n))
	}
	// Phase changes: a tick mark each, a label where there is room for it
	// (labels alternate between two lines and never overlap).
	lastPhase := ""
	labelEnd := [2]int{}
	line := 0
	for x, e := range h.Entries {
		px := left + cell*x
		if e.Phase != lastPhase && e.Phase != "" {
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ccc"/>`+"\n", px, top-8, px, top+row*len(names))
			if w := 6 * len(e.Phase); px >= labelEnd[line] {
				fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="9">%s</text>`+"\n", px+2, top-26+12*line, html.EscapeString(e.Phase))
				labelEnd[line] = px + w + 4
				line = 1 - line
			} else if px >= labelEnd[1-line] {
				fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="9">%s</text>`+"\n", px+2, top-26+12*(1-line), html.EscapeString(e.Phase))
				labelEnd[1-line] = px + w + 4
			}
		}
		lastPhase = e.Phase
		leader, _ := e.Observation.Leader()
		for _, m := range e.Observation.Members {
			i := slices.Index(names, m.Name)
			y := top + row*i
			opacity := "1"
			if !m.Up() {
				opacity = "0.25"
			}
			if m.Pod.Exists {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="14" fill="%s" opacity="%s"/>`+"\n", px, y, cell, color(m.Version), opacity)
			}
			if m.Name == leader.Name && e.Observation.Raft.LeaderID != "" {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="4" fill="black"/>`+"\n", px, y+5, cell)
			}
			switch {
			case m.IsVoter():
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="2" fill="#333"/>`+"\n", px, y+16, cell)
			case m.IsNonvoter() && x%2 == 0:
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="2" fill="#999"/>`+"\n", px, y+16, cell)
			}
		}
	}
	ly := top + row*len(names) + 20
	for i, v := range versions {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">version %s</text>`+"\n",
			left, ly+18*i, color(v), left+18, ly+18*i+10, html.EscapeString(v))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d">black stripe: leader; solid underline: voter; dashed: non-voter; pale: down</text>`+"\n", left+160, ly+10)
	b.WriteString("</svg>\n")
	return b.String()
}
