// Package tomlconfig reads a service's optional TOML config file with the one
// policy every FlareDB service shares: a key the config struct does not know
// is an error, because a misspelt key silently keeping its default is worse
// than refusing to start.
package tomlconfig
