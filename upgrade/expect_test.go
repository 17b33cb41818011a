package upgrade

import "testing"

// TestExpectationMetNeedsTheWrite pins what makes a partition or template
// expectation met: the value, and a generation newer than the one the
// Decision saw (the write itself). A workload already at the value with the
// old generation (a stale view, a write not yet made) is not the effect.
func TestExpectationMetNeedsTheWrite(t *testing.T) {
	obs := func(partition int32, image string, gen int64) *Observation {
		return &Observation{Workloads: []Workload{{Name: "bao", Partition: partition, Image: image, Generation: gen}}}
	}
	cases := []struct {
		name string
		e    Expectation
		obs  *Observation
		want bool
	}{
		{"partition written", Expectation{Kind: ExpectPartition, Workload: "bao", Number: 2, Generation: 4}, obs(2, "", 5), true},
		{"partition at the value, same generation", Expectation{Kind: ExpectPartition, Workload: "bao", Number: 2, Generation: 4}, obs(2, "", 4), false},
		{"partition not yet written", Expectation{Kind: ExpectPartition, Workload: "bao", Number: 2, Generation: 4}, obs(3, "", 5), false},
		{"template written", Expectation{Kind: ExpectTemplate, Workload: "bao", Value: "img:2", Generation: 4}, obs(0, "img:2", 5), true},
		{"template at the value, same generation", Expectation{Kind: ExpectTemplate, Workload: "bao", Value: "img:2", Generation: 4}, obs(0, "img:2", 4), false},
		{"no such workload", Expectation{Kind: ExpectPartition, Workload: "other", Number: 2, Generation: 4}, obs(2, "", 5), false},
	}
	for _, c := range cases {
		if got := c.e.Met(c.obs); got != c.want {
			t.Errorf("%s: Met = %t, want %t", c.name, got, c.want)
		}
	}
}
