// Package retry is the SDK's backoff policy: exponential delays with jitter,
// capped, and never sleeping past the caller's context deadline.
//
// It exists apart from the request loop so that the policy (how long to wait
// after the n-th failure) can be tested without a cluster, and so that batch
// operations that fan out to several regions share one budget.
package retry
