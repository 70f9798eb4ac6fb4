//go:build unix

package gateway_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the test process has used so far:
// all goroutines, the gRPC client and server and the garbage collector included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
