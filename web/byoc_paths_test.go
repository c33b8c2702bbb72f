package web_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// listOf reads a list response (GET path) and returns its items, whatever
// the list's envelope: every list read in these tests goes through it.
func (e *env) listOf(path, key string) []map[string]any {
	e.t.Helper()
	r := e.mustDo("GET", path, key, nil, 200)
	var items []map[string]any
	raw := strings.TrimSpace(r.Raw)
	if strings.HasPrefix(raw, "[") {
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			e.t.Fatalf("GET %s: %v", path, err)
		}
		return items
	}
	var body struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return body.Items
}

// TestTalkifAIBYOCPaths sends TalkifAI's documented BYOC requests to their
// documented paths (/v1/byoc/...), with the same API key as /api/v1.
func TestTalkifAIBYOCPaths(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		support := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Support"}, 201).Body["id"].(string)
		sales := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Sales"}, 201).Body["id"].(string)
		newSupport := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "New support"}, 201).Body["id"].(string)
		create := map[string]any{
			"phoneNumber": "+19876543210", "inboundAgentId": support, "outboundAgentId": sales,
			"sipUsername": "your_sip_username", "sipPassword": "your_sip_password",
			"terminationUri": "your-trunk.pstn.twilio.com", "friendlyName": "Main Support Line",
		}
		if r := e.do("POST", "/v1/byoc/phone-numbers", "", create); r.Status != 401 {
			t.Fatalf("no key: %d %s", r.Status, r.Raw)
		}
		r := e.mustDo("POST", "/v1/byoc/phone-numbers", e.keyA, create, 201)
		if r.Body["phoneNumber"] != "+19876543210" || r.Body["inboundAgentId"] != support || r.Body["outboundAgentId"] != sales ||
			r.Body["sipUsername"] != "your_sip_username" || r.Body["sipPasswordSet"] != true || r.Body["friendlyName"] != "Main Support Line" ||
			r.Body["terminationUri"] != "sip:your-trunk.pstn.twilio.com" || strings.Contains(r.Raw, "your_sip_password") {
			t.Fatalf("create: %s", r.Raw)
		}
		gw := r.Body["trunk"].(map[string]any)["gateway_name"]
		for _, c := range []struct {
			body  map[string]any
			code  int
			field string
		}{
			{map[string]any{"phoneNumber": "+19876543211"}, 400, "terminationUri"},
			{map[string]any{"terminationUri": "pbx.example.com"}, 400, "phoneNumber"},
			{map[string]any{"phoneNumber": "not a number", "terminationUri": "pbx.example.com"}, 400, "phoneNumber"},
			{map[string]any{"phoneNumber": "+19876543211", "terminationUri": "pbx.example.com", "inboundAgentId": "agent_support"}, 404, "inboundAgentId"},
			{map[string]any{"phoneNumber": "+19876543210", "terminationUri": "pbx.example.com"}, 409, "phoneNumber"},
		} {
			if got := e.do("POST", "/v1/byoc/phone-numbers", e.keyA, c.body); got.Status != c.code || got.errField() != c.field {
				t.Errorf("%v: %d %s", c.body, got.Status, got.Raw)
			}
		}
		// The documented update, with the number as written (a raw "+") and escaped.
		u := e.mustDo("PUT", "/v1/byoc/phone-numbers/+19876543210", e.keyA, map[string]any{"inboundAgentId": newSupport, "sipPassword": "updated_password"}, 200)
		if u.Body["inboundAgentId"] != newSupport || u.Body["outboundAgentId"] != sales || strings.Contains(u.Raw, "updated_password") {
			t.Fatalf("update: %s", u.Raw)
		}
		e.mustDo("PUT", "/v1/byoc/phone-numbers/%2B19876543210", e.keyA, map[string]any{"friendlyName": "Support"}, 200)
		if nums := e.listOf("/api/v1/phone-numbers", e.keyA); len(nums) != 1 || nums[0]["friendly_name"] != "Support" {
			t.Fatalf("the /v1 update is not the /api/v1 number: %v", nums)
		}
		// Another organization's key sees nothing of it.
		e.mustDo("PUT", "/v1/byoc/phone-numbers/+19876543210", e.keyB, map[string]any{"friendlyName": "x"}, 404)
		e.mustDo("DELETE", "/v1/byoc/phone-numbers/+19876543210", e.keyB, nil, 404)
		if got := e.do("POST", "/v1/byoc/trunks/refresh", e.keyB, map[string]any{"phoneNumber": "+19876543210"}); got.Status != 404 {
			t.Fatalf("org B refreshed org A's number: %d %s", got.Status, got.Raw)
		}
		if gws := e.mustDo("POST", "/v1/byoc/trunks/refresh-all", e.keyB, nil, 202).Body["gateways"].([]any); len(gws) != 0 {
			t.Fatalf("org B refreshed org A's gateways: %v", gws)
		}
		ref := e.mustDo("POST", "/v1/byoc/trunks/refresh", e.keyA, map[string]any{"phoneNumber": "+19876543210"}, 202)
		if gws := ref.Body["gateways"].([]any); len(gws) != 1 || gws[0] != gw {
			t.Fatalf("refresh: %s", ref.Raw)
		}
		if got := e.do("POST", "/v1/byoc/trunks/refresh", e.keyA, map[string]any{}); got.Status != 400 || got.errField() != "phoneNumber" {
			t.Fatalf("refresh without phoneNumber: %d %s", got.Status, got.Raw)
		}
		all := e.mustDo("POST", "/v1/byoc/trunks/refresh-all", e.keyA, nil, 202)
		if gws := all.Body["gateways"].([]any); len(gws) != 1 || gws[0] != gw {
			t.Fatalf("refresh-all: %s", all.Raw)
		}
		e.mustDo("DELETE", "/v1/byoc/phone-numbers/+19876543210", e.keyA, nil, 204)
		if n := len(e.listOf("/api/v1/phone-numbers", e.keyA)); n != 0 {
			t.Fatalf("%d numbers left after DELETE", n)
		}
		if n := len(e.listOf("/api/v1/sip-trunks", e.keyA)); n != 0 {
			t.Fatalf("the number's trunk survived it: %d trunks", n)
		}
		if strings.Contains(e.bodies.String(), "your_sip_password") || strings.Contains(e.logs.String(), "your_sip_password") {
			t.Fatal("a SIP password was returned or logged")
		}
	})
}
