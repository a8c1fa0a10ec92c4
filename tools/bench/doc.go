// Command bench is FlareDB's load generator. It drives the same workloads
// through two drivers, flaredb (libs/client) and etcd (the etcd v3 client,
// as a comparison target only), so the two systems can be measured side by
// side on one machine in one run (see scripts/bench-vs-etcd.sh).
//
// Workloads: put, get (linearizable), ycsb-a (50% read / 50% update),
// ycsb-b (95/5), ycsb-c (100% read), cas (compare-and-swap increment under
// contention), scan, and tso (PD timestamps; flaredb only). Keys are chosen
// uniformly or with a zipfian skew. Each second a progress line is printed to
// stderr; at the end a table and one JSON line go to stdout.
//
// The load generator shares the machine with the servers it measures, so it
// reports its own CPU use (cores) beside every result.
package main
