//go:build tools

// Package deps pins modules the build needs before any code imports them.
package deps
