// Command pause is the sandbox ("infra") container of every pod on Baton's test node:
// it holds the pod's namespaces open, reaps orphaned children when the pod shares its
// PID namespace, and exits when the runtime asks it to. It is built here, as a static
// binary in an image FROM scratch, because the test machines reach no image registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child: as PID 1 of a shared PID namespace, orphans are ours.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
