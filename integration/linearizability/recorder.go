package linearizability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Store is what the clients call. A Get error means the read had no effect
// and is left out of the history; a Put or CAS error means the outcome is
// unknown (the write may have been applied).
type Store interface {
	Get(ctx context.Context, key string) (value string, version uint64, err error)
	Put(ctx context.Context, key, value string) (version uint64, err error)
	CAS(ctx context.Context, key, value string, expected uint64) (ok bool, current string, version uint64, err error)
}

// Workload shapes a run.
type Workload struct {
	Clients   int           // concurrent clients
	Keys      int           // size of the key set
	Duration  time.Duration // how long clients keep calling
	OpTimeout time.Duration // deadline of one call
	Seed      uint64
}

// Run drives w.Clients clients against s until w.Duration passed or ctx
// is done, and returns the history. Calls are spread over a small key set
// so that they conflict: 40% gets, 30% puts, 30% CAS conditional on the
// last version the client saw (sometimes off by one, to fail).
func Run(ctx context.Context, s Store, w Workload) []porcupine.Operation {
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	ctx, cancel := context.WithTimeout(ctx, w.Duration)
	defer cancel()

	var (
		mu      sync.Mutex
		history []porcupine.Operation
		ids     atomic.Int64 // porcupine client ids; a client with an unknown call continues under a new one
		wg      sync.WaitGroup
	)
	for c := 0; c < w.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w.Seed, uint64(c)))
			id := int(ids.Add(1) - 1)
			seen := map[string]uint64{}
			for seq := 0; ctx.Err() == nil; seq++ {
				key := fmt.Sprintf("k%d", rng.IntN(w.Keys))
				in := Input{Key: key, Value: fmt.Sprintf("c%d-%d", c, seq)}
				var out Output
				var err error
				opCtx, opCancel := context.WithTimeout(context.Background(), w.OpTimeout)
				call := now()
				switch r := rng.IntN(10); {
				case r < 4:
					in.Kind, in.Value = OpGet, ""
					out.Value, out.Version, err = s.Get(opCtx, key)
				case r < 7:
					in.Kind = OpPut
					out.Version, err = s.Put(opCtx, key, in.Value)
				default:
					in.Kind, in.ExpectedVersion = OpCAS, seen[key]
					if rng.IntN(4) == 0 {
						in.ExpectedVersion++
					}
					out.Succeeded, out.Value, out.Version, err = s.CAS(opCtx, key, in.Value, in.ExpectedVersion)
				}
				ret := now()
				opCancel()
				if err != nil {
					if in.Kind == OpGet {
						continue
					}
					out = Output{Unknown: true}
					ret = -1 // the end of the history, set below
				} else {
					seen[key] = out.Version
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
				if out.Unknown {
					id = int(ids.Add(1) - 1)
				}
			}
		}(c)
	}
	wg.Wait()
	end := now() + 1
	for i := range history {
		if history[i].Return < 0 {
			history[i].Return = end
		}
	}
	return history
}

// Summary counts a history's operations by kind and outcome.
func Summary(history []porcupine.Operation) string {
	var gets, puts, cas, casOK, unknown int
	for _, op := range history {
		in, out := op.Input.(Input), op.Output.(Output)
		switch {
		case out.Unknown:
			unknown++
		case in.Kind == OpGet:
			gets++
		case in.Kind == OpPut:
			puts++
		default:
			cas++
			if out.Succeeded {
				casOK++
			}
		}
	}
	return fmt.Sprintf("%d ops: %d gets, %d puts, %d CAS (%d succeeded), %d unknown outcomes",
		len(history), gets, puts, cas, casOK, unknown)
}

// checkTimeout bounds porcupine; per-key partitions keep it far below.
const checkTimeout = 2 * time.Minute

// check runs porcupine. On a violation it writes the visualization under
// dir and returns its path.
func check(history []porcupine.Operation, dir, name string) (porcupine.CheckResult, string, error) {
	res, info := porcupine.CheckOperationsVerbose(Model, history, checkTimeout)
	if res != porcupine.Illegal {
		return res, "", nil
	}
	path := filepath.Join(dir, name+".html")
	if err := porcupine.VisualizePath(Model, info, path); err != nil {
		return res, "", fmt.Errorf("write visualization: %w", err)
	}
	// The raw history too, one operation a line, for grep.
	var b strings.Builder
	for _, op := range history {
		fmt.Fprintf(&b, "client=%d call=%d return=%d %s\n", op.ClientId, op.Call, op.Return,
			Model.DescribeOperation(op.Input, op.Output))
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(b.String()), 0o644); err != nil {
		return res, "", fmt.Errorf("write history: %w", err)
	}
	return res, path, nil
}

// Check fails t unless history is linearizable. On a violation porcupine's
// HTML visualization is written to a file that outlives the test (Bazel's
// undeclared outputs directory when set) and the failure names it.
func Check(t testing.TB, history []porcupine.Operation, name string) {
	t.Helper()
	dir := os.Getenv("TEST_UNDECLARED_OUTPUTS_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "flaredb-porcupine-"); err != nil {
			t.Fatalf("create visualization dir: %v", err)
		}
	}
	res, path, err := check(history, dir, name)
	switch {
	case err != nil:
		t.Fatalf("history is not linearizable, and %v", err)
	case res == porcupine.Illegal:
		t.Fatalf("history is not linearizable (%s); visualization: %s", Summary(history), path)
	case res == porcupine.Unknown:
		t.Fatalf("porcupine could not decide within %s (%s)", checkTimeout, Summary(history))
	}
	if dir != os.Getenv("TEST_UNDECLARED_OUTPUTS_DIR") {
		_ = os.Remove(dir)
	}
}
