package transport

import "github.com/prometheus/client_golang/prometheus"

// Result label values. Bounded: no store, region or peer ids.
const (
	resultSent    = "sent"
	resultDropped = "dropped"
	resultFailed  = "failed"
	resultOK      = "ok"
)

// metrics of one store's transport, both directions. The children of the
// labelled families are resolved once, so the send path only adds.
type metrics struct {
	msgsSent     prometheus.Counter // handed to a healthy stream
	msgsDropped  prometheus.Counter // not queued: queue full, or a test filter
	msgsFailed   prometheus.Counter // lost to a stream error or an unreachable store
	msgsReceived prometheus.Counter
	batchesSent  prometheus.Counter

	snapsSentOK, snapsSentFailed         prometheus.Counter
	snapsReceivedOK, snapsReceivedFailed prometheus.Counter
	snapSentBytes, snapReceivedBytes     prometheus.Counter
}

// newMetrics registers the transport's metrics on reg; a nil reg leaves
// them unregistered (they still count, nobody reads them).
func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "flaredb", "transport"
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "raft_messages_total",
		Help: "Outbound Raft messages (snapshots excluded) by result: sent (written to the peer store's stream), " +
			"dropped (not queued: queue full, or a test filter), failed (lost to a stream error or an unreachable store)."},
		[]string{"result"})
	received := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "raft_messages_received_total", Help: "Raft messages received from other stores (snapshots excluded)."})
	batches := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "raft_batches_sent_total", Help: "Message batches written to peer stores' Raft streams."})
	snapsSent := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "snapshots_sent_total", Help: "Region snapshots streamed to other stores by result (ok, failed)."},
		[]string{"result"})
	snapsReceived := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "snapshots_received_total", Help: "Region snapshot streams received from other stores by result (ok, failed)."},
		[]string{"result"})
	sentBytes := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "snapshot_sent_bytes_total", Help: "Snapshot data bytes written to snapshot streams (failed streams included)."})
	receivedBytes := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "snapshot_received_bytes_total", Help: "Snapshot data bytes read from snapshot streams (failed streams included)."})
	m := &metrics{
		msgsSent:            msgs.WithLabelValues(resultSent),
		msgsDropped:         msgs.WithLabelValues(resultDropped),
		msgsFailed:          msgs.WithLabelValues(resultFailed),
		msgsReceived:        received,
		batchesSent:         batches,
		snapsSentOK:         snapsSent.WithLabelValues(resultOK),
		snapsSentFailed:     snapsSent.WithLabelValues(resultFailed),
		snapsReceivedOK:     snapsReceived.WithLabelValues(resultOK),
		snapsReceivedFailed: snapsReceived.WithLabelValues(resultFailed),
		snapSentBytes:       sentBytes,
		snapReceivedBytes:   receivedBytes,
	}
	if reg != nil {
		reg.MustRegister(msgs, received, batches, snapsSent, snapsReceived, sentBytes, receivedBytes)
	}
	return m
}
