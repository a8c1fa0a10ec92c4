// Package kvconfig is the user-facing configuration of kv-service: one struct
// with kebab-case TOML keys, defaults from NewConfig, a Validate method, and
// Parse, which layers defaults, an optional --config file and command-line
// flags in that order.
//
// It is a public package (not services/kv/internal) because integration tests
// and tools outside services/kv start nodes in-process through
// services/kv/kvnode and need to build a Config for them.
package kvconfig
