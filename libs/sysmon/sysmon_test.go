package sysmon

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets TestReexec run this test binary as a process that calls
// Reexec and prints the GODEBUG it ends up with.
func TestMain(m *testing.M) {
	if os.Getenv("SYSMON_TEST_CHILD") == "1" {
		if err := Reexec(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("pid=%d godebug=%s\n", os.Getpid(), os.Getenv("GODEBUG"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestWithSchedtrace(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		changed  bool
	}{
		{"", schedtrace, true},
		{"madvdontneed=1", "madvdontneed=1," + schedtrace, true},
		{"schedtrace=0", "schedtrace=0", false},
		{"gctrace=1, schedtrace=1000", "gctrace=1, schedtrace=1000", false},
	} {
		got, changed := withSchedtrace(tc.in)
		if got != tc.want || changed != tc.changed {
			t.Errorf("withSchedtrace(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}

func TestReexec(t *testing.T) {
	for _, tc := range []struct{ godebug, want string }{
		{"", "godebug=" + schedtrace},
		{"gctrace=0", "godebug=gctrace=0," + schedtrace},
		{"schedtrace=0", "godebug=schedtrace=0"}, // the opt-out: no re-exec
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(withoutGodebug(os.Environ()), "SYSMON_TEST_CHILD=1", "GODEBUG="+tc.godebug)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GODEBUG=%q: %v\n%s", tc.godebug, err, out)
		}
		// The same process (pid) continues as the new image.
		pid := fmt.Sprintf("pid=%d ", cmd.Process.Pid)
		if line := strings.TrimSpace(string(out)); line != pid+tc.want {
			t.Errorf("GODEBUG=%q: child printed %q, want %q", tc.godebug, line, pid+tc.want)
		}
	}
}
