// Package cluster is PD's model of the cluster: its id, whether it is
// bootstrapped, the stores with their liveness, and the regions with their
// latest epoch and leader, indexed by key for routing. It persists every
// metadata change through metastore before making it visible and asks
// schedule for the next step on each region heartbeat.
package cluster
