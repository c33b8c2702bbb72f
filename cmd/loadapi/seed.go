package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// seed makes the organization hold at least n trunks (registration trunks
// with a password, on private addresses the default address policy
// accepts), creating the missing ones as load-NNNN, and returns the id of
// one of them ("" when it has none).
func seed(ctx context.Context, c *client, n int, log io.Writer) (string, error) {
	total, first, err := c.trunkCount(ctx)
	if err != nil {
		return "", err
	}
	if total < n {
		fmt.Fprintf(log, "loadapi: creating %d trunks (the organization has %d)\n", n-total, total)
	}
	for i := total; i < n; i++ {
		body, _ := json.Marshal(map[string]any{
			"name":     fmt.Sprintf("load-%04d", i),
			"gateway":  fmt.Sprintf("10.77.%d.%d", i/250, i%250+1),
			"username": "load" + strconv.Itoa(i),
			"password": "load-secret-" + strconv.Itoa(i),
			"priority": i%5 + 1,
			"codecs":   []string{"PCMU", "PCMA"},
		})
		req, err := c.request(ctx, http.MethodPost, "/api/v1/sip-trunks", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("POST /api/v1/sip-trunks: %s: %s", resp.Status, b)
		}
		if first == "" {
			var t struct{ ID string }
			_ = json.Unmarshal(b, &t)
			first = t.ID
		}
	}
	return first, nil
}

// trunkCount is the organization's number of trunks and the id of its first.
func (c *client) trunkCount(ctx context.Context) (int, string, error) {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/sip-trunks?limit=1", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("GET /api/v1/sip-trunks: %s: %s", resp.Status, b)
	}
	var items []struct{ ID string }
	if err := json.Unmarshal(b, &items); err != nil {
		return 0, "", fmt.Errorf("GET /api/v1/sip-trunks: %w", err)
	}
	total, err := strconv.Atoi(resp.Header.Get("X-Total-Count"))
	if err != nil {
		return 0, "", fmt.Errorf("GET /api/v1/sip-trunks: X-Total-Count %q", resp.Header.Get("X-Total-Count"))
	}
	first := ""
	if len(items) > 0 {
		first = items[0].ID
	}
	return total, first, nil
}
