package sysmon

import (
	"os"
	"strings"
	"syscall"
)

// schedtrace is the period, in milliseconds, Reexec sets: the largest the
// runtime parses (an int32).
const schedtrace = "schedtrace=2147483647"

// Reexec replaces the process with a fresh copy of itself whose GODEBUG
// adds schedtrace (see the package doc), unless GODEBUG already sets
// schedtrace. Call it first thing in main, before any goroutine, file or
// socket exists: the new image starts over with the same pid, arguments
// and environment. It returns only when it did not re-exec; an error means
// the exec failed and the process goes on as it is.
func Reexec() error {
	godebug, ok := withSchedtrace(os.Getenv("GODEBUG"))
	if !ok {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(withoutGodebug(os.Environ()), "GODEBUG="+godebug)
	return syscall.Exec(exe, os.Args, env)
}

// withSchedtrace returns godebug with schedtrace added, and false if
// godebug sets schedtrace already.
func withSchedtrace(godebug string) (string, bool) {
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return godebug, false
		}
	}
	if godebug == "" {
		return schedtrace, true
	}
	return godebug + "," + schedtrace, true
}

func withoutGodebug(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}
