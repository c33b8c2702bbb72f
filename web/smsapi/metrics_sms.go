package smsapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipbridge/sipbridge/db/smsdb"
)

// smsCollector reports the messages and forwards in the database at each
// scrape, so every replica shows the same figures.
type smsCollector struct {
	store *smsdb.Store
	desc  *prometheus.Desc
}

func newSMSCollector(store *smsdb.Store) *smsCollector {
	return &smsCollector{store: store, desc: prometheus.NewDesc("sipbridge_sms_messages",
		"SMS/MMS in the database by provider, direction (outbound, inbound, forward) and status.",
		[]string{"provider", "direction", "status"}, nil)}
}

func (c *smsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *smsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.AllSMSCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, k := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(k.N), k.Provider, k.Direction, k.Status)
	}
}
