package client_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/libs/client"
)

// pdAddr is the PD of the single-node store TestMain starts for the
// examples: a real pd-service and kv-service, as the examples would run
// against in production.
var pdAddr string

func TestMain(m *testing.M) {
	// The framework's -kv-bin/-pd-bin flags (set by Bazel) are read before
	// m.Run, which would parse them too late.
	flag.Parse()
	os.Exit(runWithStore(m))
}

func runWithStore(m *testing.M) int {
	defer framework.RemoveBuilt()
	dir, err := os.MkdirTemp("", "flaredb-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pd, err := framework.LaunchPD(dir, framework.PDOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start pd:", err)
		return 1
	}
	defer pd.Close()
	kv, err := framework.LaunchKV(dir, framework.KVOptions{PDEndpoints: []string{pd.Addr()}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start kv:", err)
		return 1
	}
	defer kv.Close()
	pdAddr = pd.Addr()
	return m.Run()
}

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if _, err := c.Put(ctx, []byte("greeting"), []byte("hello")); err != nil {
		panic(err)
	}
	res, err := c.Get(ctx, []byte("greeting"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s found=%v\n", res.Value, res.Found)

	res, err = c.Get(ctx, []byte("no-such-key"))
	fmt.Println("missing:", res.Found, err)
	// Output:
	// hello found=true
	// missing: false <nil>
}

func ExampleClient_CompareAndSwap() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// Version 0 means "create only if absent".
	created, _ := c.CompareAndSwap(ctx, []byte("lock"), []byte("owner-a"), 0)
	fmt.Println("a acquired:", created.Succeeded)
	taken, _ := c.CompareAndSwap(ctx, []byte("lock"), []byte("owner-b"), 0)
	fmt.Printf("b acquired: %v (held by %s)\n", taken.Succeeded, taken.Value)

	// Release only if nobody changed it since: condition on the version.
	released, _ := c.CompareAndDelete(ctx, []byte("lock"), created.Version)
	fmt.Println("a released:", released.Succeeded)
	// Output:
	// a acquired: true
	// b acquired: false (held by owner-a)
	// a released: true
}

func ExampleClient_Scan() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	_, err = c.BatchPut(ctx, []client.KV{
		{Key: []byte("user/1"), Value: []byte("ada")},
		{Key: []byte("user/2"), Value: []byte("grace")},
		{Key: []byte("user/3"), Value: []byte("linus")},
	})
	if err != nil {
		panic(err)
	}
	// [user/, user0) is every key with the prefix "user/".
	kvs, _ := c.Scan(ctx, []byte("user/"), []byte("user0"), 10)
	for _, kv := range kvs {
		fmt.Printf("%s=%s\n", kv.Key, kv.Value)
	}
	last, _ := c.ReverseScan(ctx, []byte("user/"), []byte("user0"), 1, client.KeyOnly())
	fmt.Printf("last: %s\n", last[0].Key)
	// Output:
	// user/1=ada
	// user/2=grace
	// user/3=linus
	// last: user/3
}

func ExampleErrInvalidArgument() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	_, err = c.Put(ctx, nil, []byte("value"))
	fmt.Println(errors.Is(err, client.ErrInvalidArgument))
	// Output:
	// true
}

func ExampleClient_GetTS() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	t1, _ := c.GetTS(ctx)
	t2, _ := c.GetTS(ctx)
	physical, _ := client.ParseTS(t2)
	fmt.Println(t2 > t1, time.Since(time.UnixMilli(physical)) < time.Minute)
	// Output:
	// true true
}
