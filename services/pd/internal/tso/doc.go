// Package tso is PD's timestamp oracle: it hands out strictly increasing
// 64-bit timestamps (physical milliseconds << 18 | logical) that survive
// restarts and wall-clock steps backwards, which is what transactions and
// MVCC reads across the cluster rely on to order themselves.
package tso
