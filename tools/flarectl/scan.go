package main

import (
	"flag"
	"fmt"

	"github.com/flaredb/flaredb/libs/client"
)

// Range commands: scan, delete-range.
func init() {
	register(&command{
		name: "scan", args: "START [END] [--limit N] [--reverse] [--key-only]",
		summary: "list pairs of [START, END) (END empty or absent: to the end); one line per pair",
		minArgs: 1, maxArgs: 2, setup: setupScan,
	})
	register(&command{
		name: "delete-range", args: "START END", summary: "delete every key of [START, END)",
		minArgs: 2, maxArgs: 2, setup: setupDeleteRange,
	})
}

type pairOut struct {
	Key     any    `json:"key"`
	Value   any    `json:"value"`
	Version uint64 `json:"version"`
}

func setupScan(fs *flag.FlagSet) runFunc {
	limit := fs.Int("limit", 100, "most pairs to print")
	reverse := fs.Bool("reverse", false, "from the high end of the range down")
	keyOnly := fs.Bool("key-only", false, "omit values")
	return func(e *env, args []string) error {
		if *limit <= 0 {
			return usagef("--limit must be positive, got %d", *limit)
		}
		start, err := e.arg("START", args[0])
		if err != nil {
			return err
		}
		var end []byte
		if len(args) == 2 {
			if end, err = e.arg("END", args[1]); err != nil {
				return err
			}
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		var opts []client.ScanOption
		if *keyOnly {
			opts = append(opts, client.KeyOnly())
		}
		scan := c.Scan
		if *reverse {
			scan = c.ReverseScan
		}
		kvs, err := scan(e.ctx, start, end, *limit, opts...)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			out := pairOut{Key: e.jsonBytes(kv.Key), Version: kv.Version}
			text := fmt.Sprintf("key=%s version=%d", e.textBytes(kv.Key), kv.Version)
			if !*keyOnly {
				if kv.Value == nil {
					kv.Value = []byte{}
				}
				out.Value = e.jsonBytes(kv.Value)
				text = fmt.Sprintf("key=%s value=%s version=%d", e.textBytes(kv.Key), e.textBytes(kv.Value), kv.Version)
			}
			if err := e.emit(out, text); err != nil {
				return err
			}
		}
		return nil
	}
}

func setupDeleteRange(*flag.FlagSet) runFunc {
	return func(e *env, args []string) error {
		start, err := e.arg("START", args[0])
		if err != nil {
			return err
		}
		end, err := e.arg("END", args[1])
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		if err := c.DeleteRange(e.ctx, start, end); err != nil {
			return err
		}
		return e.emit(okOut{OK: true}, "OK")
	}
}
