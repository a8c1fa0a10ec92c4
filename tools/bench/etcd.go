package main

import (
	"context"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdDriver is the comparison target. Reads use etcd's default
// linearizable Get; CAS compares the key's mod revision, which is etcd's
// equivalent of FlareDB's per-key version.
type etcdDriver struct {
	clients []*clientv3.Client
	next    atomic.Uint64
}

func newEtcdDriver(ctx context.Context, endpoints []string, conns int) (*etcdDriver, error) {
	d := &etcdDriver{}
	for i := 0; i < conns; i++ {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   endpoints,
			DialTimeout: 5 * time.Second,
			Context:     ctx,
			Logger:      zap.NewNop(),
		})
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	return d, nil
}

func (d *etcdDriver) pick() *clientv3.Client {
	return d.clients[d.next.Add(1)%uint64(len(d.clients))]
}

func (d *etcdDriver) Put(ctx context.Context, key, value []byte) error {
	_, err := d.pick().Put(ctx, string(key), string(value))
	return err
}

func (d *etcdDriver) Get(ctx context.Context, key []byte) error {
	_, err := d.pick().Get(ctx, string(key))
	return err
}

func (d *etcdDriver) CASIncrement(ctx context.Context, key []byte) (int, error) {
	c := d.pick()
	k := string(key)
	conflicts := 0
	for {
		cur, err := c.Get(ctx, k)
		if err != nil {
			return conflicts, err
		}
		var rev int64
		var val []byte
		if len(cur.Kvs) > 0 {
			rev, val = cur.Kvs[0].ModRevision, cur.Kvs[0].Value
		}
		resp, err := c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
			Then(clientv3.OpPut(k, string(encodeCounter(decodeCounter(val)+1)))).
			Commit()
		if err != nil {
			return conflicts, err
		}
		if resp.Succeeded {
			return conflicts, nil
		}
		conflicts++
	}
}

func (d *etcdDriver) Scan(ctx context.Context, start []byte, limit int) error {
	_, err := d.pick().Get(ctx, string(start), clientv3.WithFromKey(), clientv3.WithLimit(int64(limit)))
	return err
}

func (d *etcdDriver) TSO(context.Context) error {
	return errUnsupported{driver: "etcd", op: "tso"}
}

func (d *etcdDriver) Close() error {
	for _, c := range d.clients {
		_ = c.Close()
	}
	return nil
}
