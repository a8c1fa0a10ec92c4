// Package sysmon keeps the Go runtime's system monitor thread from polling
// every 20 µs after each idle moment of a server process.
//
// sysmon sleeps deeply while every P is idle, and the first syscall or cgo
// call after that wakes it and resets its period to 20 µs; it backs off
// only after 50 quiet periods. A store spends much of its time idle between
// Raft rounds and starts every round with a cgo call into RocksDB or a
// socket write, so sysmon went back to 20 µs polling hundreds of times a
// second: with three stores on two cores it caused about half of their
// context switches (perf sched: ~2,500 a second per store at 64 writing
// clients). The period is hard-coded (golang/go#18236), but the deep sleep,
// and so the reset, is skipped while a scheduler trace is enabled. Reexec
// restarts the process, once, with GODEBUG=schedtrace set to the largest
// period the runtime accepts (2^31-1 ms, about 24.8 days), so sysmon never
// sleeps deeply and backs off to its 10 ms maximum while nothing needs it.
// The trace itself is one "SCHED ..." line on stderr every 24.8 days of the
// machine's monotonic clock (so one at start on a machine up longer than
// that), plus the scheduler's state on a fatal panic, where it helps.
//
// docs/benchmarks.md has the measurement. Setting any schedtrace value in
// GODEBUG yourself (schedtrace=0 to turn this off) skips the re-exec.
package sysmon
