// Package schedule decides the next membership step for a region from its
// latest heartbeat: add a replica when the region has too few, move one off a
// store that has been down too long, or hand over an operator queued by an
// administrator. It keeps at most one step in flight per region so a slow
// leader is never handed conflicting changes.
package schedule
