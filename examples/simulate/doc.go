// Command simulate runs a version upgrade of a simulated Raft cluster with
// one of raftshift's strategies and prints its tick-by-tick timeline: what
// the strategy decided, what the cluster did, who led, and a summary of
// leader changes and unavailability.
//
// # Usage
//
//	go run ./examples/simulate
//	go run ./examples/simulate -strategy bluegreen -replicas 5 -seed 7
//	go run ./examples/simulate -targeted=false          # step-down only, like OpenBao
//	go run ./examples/simulate -faults kill-leader@20,isolate=bao-1@40,heal=bao-1@60
//	go run ./examples/simulate -compare                 # targeted transfer vs naive step-down, same seed
//	go run ./examples/simulate -svg timeline.svg        # members x time picture
//	go run ./examples/simulate -window "0 2 * * *" -window-duration 2h   # window-gated upgrade
//
// Faults are scheduled by tick: kill-leader@T, move-fails@T (the next
// step-down or leadership transfer times out), kill-pod=NAME@T, isolate=NAME@T,
// heal=NAME@T, slow=NAME@T (replication slowed to one entry per tick),
// stale=N@T (the next observation is N ticks old) and bad-version=V@T (pods
// running V crash-loop).
//
// With -window (a five-field UTC cron expression) and -window-duration the
// spec gets that maintenance window: the upgrade prepares at once (lock and
// template for rolling, green deployed and synced for blue-green), holds at
// its safe point with gate MaintenanceWindow, and the host sleeps until the
// window opens (the Decision's RequeueAfter), so the timeline shows the
// hold, the simulated clock jumping to the opening and the resumption.
package main
