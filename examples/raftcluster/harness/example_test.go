package harness_test

import (
	"fmt"

	"github.com/raftshift/raftshift/examples/raftcluster/harness"
)

func ExampleParseStrategy() {
	for _, s := range []string{"rolling", "BlueGreen", "baseline", "canary"} {
		st, err := harness.ParseStrategy(s)
		fmt.Println(st, err != nil)
	}
	// Output:
	// rolling false
	// bluegreen false
	// baseline false
	//  true
}
