package main

import (
	"context"
	"sync/atomic"

	"github.com/flaredb/flaredb/libs/client"
)

// flareDriver spreads operations over several SDK clients, each with its own
// connections, so "connections" means the same thing as for etcd.
type flareDriver struct {
	clients []*client.Client
	next    atomic.Uint64
}

func newFlareDriver(ctx context.Context, endpoints []string, conns int) (*flareDriver, error) {
	d := &flareDriver{}
	for i := 0; i < conns; i++ {
		c, err := client.New(ctx, client.Config{PDEndpoints: endpoints})
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	return d, nil
}

func (d *flareDriver) pick() *client.Client {
	return d.clients[d.next.Add(1)%uint64(len(d.clients))]
}

func (d *flareDriver) Put(ctx context.Context, key, value []byte) error {
	_, err := d.pick().Put(ctx, key, value)
	return err
}

func (d *flareDriver) Get(ctx context.Context, key []byte) error {
	_, err := d.pick().Get(ctx, key)
	return err
}

func (d *flareDriver) CASIncrement(ctx context.Context, key []byte) (int, error) {
	c := d.pick()
	conflicts := 0
	for {
		cur, err := c.Get(ctx, key)
		if err != nil {
			return conflicts, err
		}
		res, err := c.CompareAndSwap(ctx, key, encodeCounter(decodeCounter(cur.Value)+1), cur.Version)
		if err != nil {
			return conflicts, err
		}
		if res.Succeeded {
			return conflicts, nil
		}
		conflicts++
	}
}

func (d *flareDriver) Scan(ctx context.Context, start []byte, limit int) error {
	_, err := d.pick().Scan(ctx, start, nil, limit)
	return err
}

func (d *flareDriver) TSO(ctx context.Context) error {
	_, err := d.pick().GetTS(ctx)
	return err
}

func (d *flareDriver) Close() error {
	for _, c := range d.clients {
		_ = c.Close()
	}
	return nil
}
