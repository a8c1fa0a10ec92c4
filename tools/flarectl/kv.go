package main

import (
	"flag"
	"fmt"
)

// Point commands: put, get, delete, cas.
func init() {
	register(&command{
		name: "put", args: "KEY VALUE", summary: "write a key; prints its new version",
		minArgs: 2, maxArgs: 2, setup: setupPut,
	})
	register(&command{
		name: "get", args: "KEY", summary: "read a key's value and version (a missing key is not an error)",
		minArgs: 1, maxArgs: 1, setup: setupGet,
	})
	register(&command{
		name: "delete", args: "KEY", summary: "delete a key (a missing key is not an error)",
		minArgs: 1, maxArgs: 1, setup: setupDelete,
	})
	register(&command{
		name: "cas", args: "KEY VALUE --expect-version N",
		summary: "write a key only if its version is N (0: only if absent); exit 0 also on conflict",
		minArgs: 2, maxArgs: 2, setup: setupCAS,
	})
}

type putOut struct {
	Key     any    `json:"key"`
	Version uint64 `json:"version"`
}

type getOut struct {
	Key     any    `json:"key"`
	Value   any    `json:"value"`
	Version uint64 `json:"version"`
	Found   bool   `json:"found"`
}

type casOut struct {
	Succeeded bool   `json:"succeeded"`
	Version   uint64 `json:"version"`
	Value     any    `json:"value"`
}

type okOut struct {
	OK bool `json:"ok"`
}

func setupPut(*flag.FlagSet) runFunc {
	return func(e *env, args []string) error {
		key, err := e.arg("KEY", args[0])
		if err != nil {
			return err
		}
		value, err := e.arg("VALUE", args[1])
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		v, err := c.Put(e.ctx, key, value)
		if err != nil {
			return err
		}
		return e.emit(putOut{Key: e.jsonBytes(key), Version: v},
			fmt.Sprintf("OK key=%s version=%d", e.textBytes(key), v))
	}
}

func setupGet(*flag.FlagSet) runFunc {
	return func(e *env, args []string) error {
		key, err := e.arg("KEY", args[0])
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		res, err := c.Get(e.ctx, key)
		if err != nil {
			return err
		}
		if !res.Found {
			return e.emit(getOut{Key: e.jsonBytes(key)}, fmt.Sprintf("key=%s not found", e.textBytes(key)))
		}
		value := res.Value
		if value == nil {
			value = []byte{} // found with an empty value: "" not null
		}
		return e.emit(getOut{Key: e.jsonBytes(key), Value: e.jsonBytes(value), Version: res.Version, Found: true},
			fmt.Sprintf("key=%s value=%s version=%d", e.textBytes(key), e.textBytes(value), res.Version))
	}
}

func setupDelete(*flag.FlagSet) runFunc {
	return func(e *env, args []string) error {
		key, err := e.arg("KEY", args[0])
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		if err := c.Delete(e.ctx, key); err != nil {
			return err
		}
		return e.emit(okOut{OK: true}, "OK")
	}
}

func setupCAS(fs *flag.FlagSet) runFunc {
	expect := fs.Uint64("expect-version", 0, "the key's current `version`; 0 means the key must be absent")
	return func(e *env, args []string) error {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "expect-version" })
		if !set {
			return usagef("--expect-version is required (0 = create only)")
		}
		key, err := e.arg("KEY", args[0])
		if err != nil {
			return err
		}
		value, err := e.arg("VALUE", args[1])
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		res, err := c.CompareAndSwap(e.ctx, key, value, *expect)
		if err != nil {
			return err
		}
		out := casOut{Succeeded: res.Succeeded, Version: res.Version}
		if res.Succeeded || res.Version != 0 {
			if res.Value == nil {
				res.Value = []byte{}
			}
			out.Value = e.jsonBytes(res.Value)
		}
		switch {
		case res.Succeeded:
			return e.emit(out, fmt.Sprintf("OK version=%d", res.Version))
		case res.Version == 0:
			return e.emit(out, "CONFLICT key absent")
		default:
			return e.emit(out, fmt.Sprintf("CONFLICT version=%d value=%s", res.Version, e.textBytes(res.Value)))
		}
	}
}
