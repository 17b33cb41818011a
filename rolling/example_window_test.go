package rolling_test

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Example_maintenanceWindows upgrades a simulated cluster whose spec allows
// pod restarts only from 02:00 UTC for two hours. The upgrade starts at
// midnight, prepares (lock, partition, template), holds between pods with
// gate MaintenanceWindow, and the host sleeps until the Decision's
// RequeueAfter; at 02:00 it resumes from its status and finishes.
func Example_maintenanceWindows() {
	c := fake.New(fake.Config{Seed: 1, Replicas: 3, Version: "2.3.0", TargetedTransfer: true})
	spec := rolling.Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0",
		MaintenanceWindows: []upgrade.MaintenanceWindow{{Schedule: "0 2 * * *", Duration: metav1.Duration{Duration: 2 * time.Hour}}}}
	status := upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"}
	for range 200 {
		obs := c.Observe()
		d, err := rolling.Step(spec, obs, status)
		if err != nil {
			panic(err)
		}
		status = d.Status
		for _, ev := range d.Events {
			if ev.Reason != string(rolling.ReasonRestartingPod) {
				fmt.Println(obs.Now.Format("15:04:05"), ev.Reason)
			}
		}
		if _, err := c.Apply(d.Actions); err != nil {
			panic(err)
		}
		if status.Upgrade == nil && len(d.Actions) == 0 {
			break
		}
		if d.Gate != nil && d.Gate.Name == upgrade.GateMaintenanceWindow {
			fmt.Println(obs.Now.Format("15:04:05"), d.Gate.Message)
			c.Sleep(d.RequeueAfter - time.Second) // the tick below ends at the opening
		}
		c.Tick()
	}
	fmt.Println("current version:", status.CurrentVersion)
	// Output:
	// 00:00:00 UpgradeStarted
	// 00:00:02 OutsideMaintenanceWindow
	// 00:00:02 outside maintenance windows; next window opens at 2026-01-01T02:00:00Z
	// 02:00:00 UpgradeResumed
	// 02:00:34 MovingLeadership
	// 02:00:52 UpgradeSucceeded
	// current version: 2.4.0
}
