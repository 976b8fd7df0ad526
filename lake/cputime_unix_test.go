//go:build unix

package lake_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
