package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// Client is sipbridge's REST API with one organization's key (JSON in and
// out, `Authorization: Bearer`).
type Client struct {
	Base string // http://127.0.0.1:port
	Key  string
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// Do sends a request and returns the status and the raw body. body is
// marshalled to JSON unless it is nil.
func (c *Client) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return res.StatusCode, data
}

// Call sends a request, fails the test unless the status is want, and
// decodes the answer into out (when not nil).
func (c *Client) Call(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	st, data := c.Do(t, method, path, body)
	if st != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// Trunk is a SIP trunk as the API shows it (web/trunkapi/api_trunks.go trunkView).
type Trunk struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	GatewayName      string   `json:"gateway_name"`
	Gateway          string   `json:"gateway"`
	Username         string   `json:"username"`
	PasswordSet      bool     `json:"password_set"`
	Enabled          bool     `json:"enabled"`
	Register         bool     `json:"register"`
	AllowedAddresses []string `json:"allowed_addresses"`
	SyncStatus       struct {
		State     string     `json:"state"`
		Message   string     `json:"message"`
		AppliedAt *time.Time `json:"applied_at"`
	} `json:"sync_status"`
	GatewayState   string `json:"gateway_state"`
	PingStatus     string `json:"ping_status"`
	LastStatusCode int    `json:"last_status_code"`
	// Nodes is the trunk on each FreeSWITCH node (FS_NODES only).
	Nodes []struct {
		Node           string `json:"node"`
		GatewayState   string `json:"gateway_state"`
		LastStatusCode int    `json:"last_status_code"`
		SyncStatus     struct {
			State   string `json:"state"`
			Message string `json:"message"`
		} `json:"sync_status"`
	} `json:"nodes"`
}

func (tr Trunk) String() string {
	return fmt.Sprintf("trunk %s (%s): sync %s %q, gateway_state %q, last_status_code %d",
		tr.Name, tr.GatewayName, tr.SyncStatus.State, tr.SyncStatus.Message, tr.GatewayState, tr.LastStatusCode)
}

// CreateTrunk creates a trunk (201). When t ends the trunk is deleted again
// and the harness waits until FreeSWITCH no longer has its gateway, so the
// next scenario starts from a switch without it.
func (b *Bridge) CreateTrunk(t testing.TB, in map[string]any) Trunk {
	t.Helper()
	var tr Trunk
	b.API.Call(t, "POST", "/api/v1/sip-trunks", in, http.StatusCreated, &tr)
	t.Cleanup(func() { b.removeTrunk(t, tr) })
	return tr
}

func (b *Bridge) removeTrunk(t testing.TB, tr Trunk) {
	st, data := b.API.Do(t, "DELETE", "/api/v1/sip-trunks/"+tr.ID, nil)
	if st != http.StatusNoContent && st != http.StatusNotFound {
		t.Errorf("cleanup: DELETE trunk %s: %d %s", tr.Name, st, data)
		return
	}
	if !b.SW.Running() {
		return
	}
	ok := testkit.Until(15*time.Second, func() bool { _, ok := b.SW.Gateway(t, tr.GatewayName); return !ok })
	if !ok {
		t.Errorf("cleanup: gateway %s still in FreeSWITCH 15 s after its trunk was deleted", tr.GatewayName)
	}
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
}

// Trunk reads a trunk.
func (b *Bridge) Trunk(t testing.TB, id string) Trunk {
	t.Helper()
	var tr Trunk
	b.API.Call(t, "GET", "/api/v1/sip-trunks/"+id, nil, http.StatusOK, &tr)
	return tr
}

// UpdateTrunk changes a trunk (PUT, 200).
func (b *Bridge) UpdateTrunk(t testing.TB, id string, in map[string]any) Trunk {
	t.Helper()
	var tr Trunk
	b.API.Call(t, "PUT", "/api/v1/sip-trunks/"+id, in, http.StatusOK, &tr)
	return tr
}

// DeleteTrunk deletes a trunk (204).
func (b *Bridge) DeleteTrunk(t testing.TB, id string) {
	t.Helper()
	b.API.Call(t, "DELETE", "/api/v1/sip-trunks/"+id, nil, http.StatusNoContent, nil)
}

// WaitTrunk polls the trunk until cond holds.
func (b *Bridge) WaitTrunk(t testing.TB, id, what string, within time.Duration, cond func(Trunk) bool) Trunk {
	t.Helper()
	var tr Trunk
	testkit.Eventually(t, within, what, func() bool { tr = b.Trunk(t, id); return cond(tr) }, func() string { return tr.String() })
	return tr
}

// WaitApplied waits for the trunk's sync_status applied and its gateway in
// FreeSWITCH.
func (b *Bridge) WaitApplied(t testing.TB, id string, within time.Duration) Trunk {
	t.Helper()
	tr := b.WaitTrunk(t, id, "sync_status applied", within, func(tr Trunk) bool { return tr.SyncStatus.State == "applied" })
	testkit.Eventually(t, within, "gateway "+tr.GatewayName+" in FreeSWITCH", func() bool { _, ok := b.SW.Gateway(t, tr.GatewayName); return ok }, nil)
	return tr
}

// Call is a call record as the API shows it (web/callapi/api_calls.go).
type Call struct {
	ID          string     `json:"id"`
	CallSID     string     `json:"call_sid"`
	SIPCallID   string     `json:"sip_call_id"`
	TrunkID     *string    `json:"sip_trunk_id"`
	Direction   string     `json:"direction"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	ResolvedDID string     `json:"resolved_did"`
	DIDSource   string     `json:"did_source"`
	Status      string     `json:"status"`
	HangupCause string     `json:"hangup_cause"`
	SIPStatus   int        `json:"sip_status"`
	Reason      string     `json:"reason"`
	StartedAt   time.Time  `json:"started_at"`
	AnsweredAt  *time.Time `json:"answered_at"`
	EndedAt     *time.Time `json:"ended_at"`
	AssistantID *string    `json:"assistant_id"`
	Node        string     `json:"node"`
}

// Calls lists the organization's calls (query: "status=refused&…").
func (b *Bridge) Calls(t testing.TB, query string) []Call {
	t.Helper()
	var calls []Call // a list answers a bare JSON array
	b.API.Call(t, "GET", "/api/v1/calls?limit=500&"+query, nil, http.StatusOK, &calls)
	return calls
}

// WaitCall waits for a call record matching cond.
func (b *Bridge) WaitCall(t testing.TB, what string, within time.Duration, cond func(Call) bool) Call {
	t.Helper()
	var got Call
	var all []Call
	testkit.Eventually(t, within, what, func() bool {
		all = b.Calls(t, "")
		for _, c := range all {
			if cond(c) {
				got = c
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("calls: %+v", all) })
	return got
}

// jsonString is a value as compact JSON, for messages.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
