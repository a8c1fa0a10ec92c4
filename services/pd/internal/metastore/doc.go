// Package metastore is PD's only door to durable state. It keeps every PD
// key under one prefix of the storage engine's meta column family and writes
// synchronously, so the timestamp oracle's saved bound, the ID allocator's
// block end and the cluster's stores and regions survive a kill -9.
package metastore
