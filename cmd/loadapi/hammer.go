package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is one path's measurement.
type result struct {
	path      string
	elapsed   time.Duration
	latencies []time.Duration // of the successful requests, sorted
	errors    int
	bytes     int64
	firstErr  string
}

// hammer runs n clients, each sending GET path back to back on its own
// keep-alive connection, for d, and collects every request's latency.
// A transport error or a status other than 200 counts as an error.
func hammer(ctx context.Context, c *client, path string, n int, d time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type worker struct {
		lat      []time.Duration
		errors   int
		bytes    int64
		firstErr string
	}
	ws := make([]worker, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.lat = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				nb, err := c.get(ctx, path)
				if ctx.Err() != nil {
					return // cut by the end of the run: not counted
				}
				if err != nil {
					w.errors++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				w.bytes += nb
			}
		}(&ws[i])
	}
	wg.Wait()
	r := result{path: path, elapsed: time.Since(start)}
	for _, w := range ws {
		r.latencies = append(r.latencies, w.lat...)
		r.errors += w.errors
		r.bytes += w.bytes
		if r.firstErr == "" {
			r.firstErr = w.firstErr
		}
	}
	slices.Sort(r.latencies)
	return r
}

// get sends one GET and reads the whole body; it returns the body's size.
func (c *client) get(ctx context.Context, path string) (int64, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}

// quantile is the q-quantile (0 < q ≤ 1) of sorted latencies, nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// line is the result as one row of the table run prints.
func (r result) line(name string) string {
	ok := len(r.latencies)
	rate := float64(ok) / r.elapsed.Seconds()
	kb := 0.0
	if ok > 0 {
		kb = float64(r.bytes) / float64(ok) / 1024
	}
	s := fmt.Sprintf("%-36s %10.0f %9.2f %9.2f %9.2f %8d %8.1f", name, rate,
		ms(quantile(r.latencies, .50)), ms(quantile(r.latencies, .90)), ms(quantile(r.latencies, .99)), r.errors, kb)
	if r.firstErr != "" {
		s += "  first error: " + r.firstErr
	}
	return s
}
