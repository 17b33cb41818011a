// Command consumer is the smallest operator-like module that embeds
// raftshift: it pins controller-runtime v0.20.0 and client-go v0.32.0 and
// imports the rolling strategy. CI runs `go mod tidy -diff` on it, so any
// raftshift requirement that would raise those pins (or pull in an adapter's
// heavy dependencies) fails the build.
package main

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

func main() {
	_ = rest.Config{Host: "https://127.0.0.1:6443"}
	log := ctrl.Log.WithName("consumer")
	d, err := rolling.Step(rolling.Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0"},
		upgrade.Observation{Now: time.Unix(1, 0)}, upgrade.Status{})
	log.Info("decided", "actions", len(d.Actions), "error", err)
	fmt.Println(len(d.Actions), err != nil)
}
