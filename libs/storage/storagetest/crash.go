package storagetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
)

const (
	// crashChildEnv carries the data dir to the child process and tells
	// RunConformance it is the child.
	crashChildEnv = "FLAREDB_STORAGETEST_CRASH_DIR"
	ackPrefix     = "storagetest-ack "
	// crashAcks is how many synced writes the parent waits for before it
	// kills the child; the child keeps writing meanwhile, so the kill lands
	// in the middle of a write.
	crashAcks = 200
)

func crashKey(i int) []byte { return []byte(fmt.Sprintf("crash/%08d", i)) }

// crashChild writes synced batches forever, acknowledging each on stdout
// only after Write returned, until the parent SIGKILLs it. Each batch spans
// two column families so the parent can also check atomicity.
func crashChild(t *testing.T, open OpenFunc, dir string) {
	e := open(t, dir)
	// Not closed on purpose: the process must die with the engine open.
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(2 * time.Minute) // an orphaned child still ends
	for i := 0; time.Now().Before(deadline); i++ {
		wb := e.NewWriteBatch()
		wb.Put(storage.CFDefault, crashKey(i), []byte(strconv.Itoa(i)))
		wb.Put(storage.CFRaft, crashKey(i), []byte(strconv.Itoa(i)))
		err := e.Write(wb, storage.WriteOptions{Sync: true})
		wb.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "write %d: %v\n", i, err)
			os.Exit(3)
		}
		fmt.Fprintf(out, "%s%d\n", ackPrefix, i)
		out.Flush()
	}
	os.Exit(4)
}

// testRunPattern is a -test.run pattern that selects exactly the test
// named name (as t.Name() spells it).
func testRunPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func testCrashReopen(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	// Pre-existing data written with a clean close must survive too.
	e := open(t, dir)
	write(t, e, func(wb storage.WriteBatch) { wb.Put(storage.CFMeta, []byte("before"), []byte("crash")) })
	require.NoError(t, e.Close())

	cmd := exec.Command(os.Args[0], "-test.run="+testRunPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	acked := -1
	sc := bufio.NewScanner(stdout)
	for acked+1 < crashAcks && sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), ackPrefix); ok {
			n, err := strconv.Atoi(line)
			require.NoError(t, err)
			require.Equal(t, acked+1, n, "acks arrive in order")
			acked = n
		}
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no clean shutdown
	_ = cmd.Wait()
	require.Equal(t, crashAcks-1, acked, "child stopped early; stderr:\n%s", stderr.String())

	e = openClosed(t, open, dir)
	requireValue(t, e, storage.CFMeta, "before", "crash")
	for i := 0; i <= acked; i++ {
		requireValue(t, e, storage.CFDefault, string(crashKey(i)), strconv.Itoa(i))
		requireValue(t, e, storage.CFRaft, string(crashKey(i)), strconv.Itoa(i))
	}
	// Writes after the last ack may or may not have made it, but each
	// batch is all or nothing.
	for i := acked + 1; i < acked+1000; i++ {
		_, errD := e.Get(storage.CFDefault, crashKey(i))
		_, errR := e.Get(storage.CFRaft, crashKey(i))
		require.Equal(t, errD == nil, errR == nil, "batch %d applied partly", i)
	}
}
