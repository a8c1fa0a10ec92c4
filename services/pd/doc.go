// Command pd runs the FlareDB placement driver: the timestamp oracle, ID
// allocator and cluster metadata service every kv-service and client talks
// to. Flags override values from the optional --config TOML file.
package main
