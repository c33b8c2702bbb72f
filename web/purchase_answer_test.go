package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestPurchaseAnswerAsDocumented: the purchase answer is Burki's
// {success, phone_number, provider, purchase_details, message}, with
// purchase_details as each provider documents it, country_code (given, or
// derived from the number) and messaging_profile_id accepted.
func TestPurchaseAnswerAsDocumented(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.withTwilio(e.keyA)
		asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Sales"}, 201).Body["id"].(string)
		dateOK := func(layout string, v any) bool {
			s, _ := v.(string)
			_, err := time.Parse(layout, s)
			return err == nil
		}

		// Twilio, the documented request.
		r := e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{
			"phone_number": "+14155550100", "provider": "twilio", "assistant_id": asst, "friendly_name": "Sales Line"}, 200)
		d, _ := r.Body["purchase_details"].(map[string]any)
		caps, _ := d["capabilities"].(map[string]any)
		if r.Body["success"] != true || r.Body["phone_number"] != "+14155550100" || r.Body["provider"] != "twilio" || r.Body["message"] == "" ||
			!strings.HasPrefix(d["sid"].(string), "PN") || d["friendly_name"] != "Sales Line" ||
			d["voice_url"] != "https://bridge.example.com/twiml" || d["sms_url"] != "https://bridge.example.com/webhooks/sms/twilio" ||
			caps["voice"] != true || caps["sms"] != true || !dateOK(time.RFC1123Z, d["date_created"]) {
			t.Fatalf("Twilio purchase answer: %s", r.Raw)
		}
		if got := e.twilio.Numbers[0]; d["sid"] != got.SID {
			t.Fatalf("sid %v, Twilio has %s", d["sid"], got.SID)
		}
		if strings.Contains(r.Raw, e.twilio.AuthToken) {
			t.Fatal("the Twilio auth token is in the answer")
		}

		// Telnyx, with messaging_profile_id and an explicit country_code.
		e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"telnyx": map[string]any{"api_key": e.telnyx.APIKey, "connection_id": "conn-7"}}, 200)
		r = e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{
			"phone_number": "+13125550100", "provider": "telnyx", "country_code": "us", "messaging_profile_id": "mp-42"}, 200)
		d = r.Body["purchase_details"].(map[string]any)
		if r.Body["success"] != true || r.Body["provider"] != "telnyx" || d["id"] == "" || d["id"] == nil || d["status"] != "success" ||
			d["connection_id"] != "conn-7" || !dateOK(time.RFC3339, d["date_created"]) {
			t.Fatalf("Telnyx purchase answer: %s", r.Raw)
		}
		if order := e.telnyx.LastOrder(); order["messaging_profile_id"] != "mp-42" || order["connection_id"] != "conn-7" {
			t.Fatalf("the order sent %v", order)
		}

		// byo-sip-trunk: the trunk and when.
		tr := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("Main"), 201).Body["id"]
		r = e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+442079460018", "provider": "byo-sip-trunk"}, 200)
		d = r.Body["purchase_details"].(map[string]any)
		if r.Body["success"] != true || d["sip_trunk_id"] != tr || !dateOK(time.RFC3339, d["date_created"]) {
			t.Fatalf("byo-sip-trunk purchase answer: %s", r.Raw)
		}

		// country_code: as given (any case), else from the number.
		want := map[string]string{"+14155550100": "US", "+13125550100": "US", "+442079460018": "GB"}
		for _, n := range e.listOf("/api/v1/phone-numbers", e.keyA) {
			if w, ok := want[n["phone_number"].(string)]; !ok || n["country_code"] != w {
				t.Errorf("number %v: country_code %v, want %s", n["phone_number"], n["country_code"], w)
			}
		}

		// Bad input names its field; another organization's assistant is 404.
		for _, c := range []struct {
			body  map[string]any
			code  int
			field string
		}{
			{map[string]any{"phone_number": "+14155550101", "provider": "plivo"}, 400, "provider"},
			{map[string]any{"phone_number": "4155550101x", "provider": "twilio"}, 400, "phone_number"},
			{map[string]any{"phone_number": "+14155550101", "provider": "twilio", "country_code": "XX"}, 400, "country_code"},
			{map[string]any{"phone_number": "+14155550101", "provider": "telnyx", "messaging_profile_id": "mp\r\nx"}, 400, "messaging_profile_id"},
			{map[string]any{"phone_number": "+14155550101", "provider": "twilio", "assistant_id": "nope"}, 404, "assistant_id"},
		} {
			if got := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, c.body); got.Status != c.code || got.errField() != c.field {
				t.Errorf("%v: %d %s", c.body, got.Status, got.Raw)
			}
		}
		e.withTwilio(e.keyB)
		if got := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyB, map[string]any{"phone_number": "+14155550102", "provider": "twilio", "assistant_id": asst}); got.Status != 404 || got.errField() != "assistant_id" {
			t.Fatalf("org B assigning org A's assistant: %d %s", got.Status, got.Raw)
		}
	})
}
