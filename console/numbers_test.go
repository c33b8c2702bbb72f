package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// numbersFixture is org A's number with nothing assigned, an assistant
// and a trunk to assign, and org B's assistant and number.
type numbersFixture struct {
	num, numB         *db.PhoneNumber
	asst, asstB       *db.Assistant
	trunkID, trunkBID string
}

func newNumbersFixture(t *testing.T, e *env) numbersFixture {
	ctx := context.Background()
	var f numbersFixture
	f.asst = &db.Assistant{OrgID: e.orgA, Name: "Front desk", StreamURL: "wss://assistant.example.com/stream"}
	f.asstB = &db.Assistant{OrgID: e.orgB, Name: "Globex bot", StreamURL: "wss://globex.example.com/stream"}
	for _, a := range []*db.Assistant{f.asst, f.asstB} {
		if err := e.store.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := e.app.Web.Trunks.Create(ctx, e.orgA, &trunkapi.Input{Name: ptr("Carrier"), Gateway: ptr("203.0.113.10"),
		Register: ptr(false), AllowedAddresses: &[]string{"203.0.113.10/32"}})
	if err != nil {
		t.Fatal(err)
	}
	trB, err := e.app.Web.Trunks.Create(ctx, e.orgB, &trunkapi.Input{Name: ptr("Globex trunk"), Gateway: ptr("203.0.113.20"),
		Register: ptr(false), AllowedAddresses: &[]string{"203.0.113.20/32"}})
	if err != nil {
		t.Fatal(err)
	}
	f.trunkID, f.trunkBID = tr.ID, trB.ID
	f.num = &db.PhoneNumber{OrgID: e.orgA, PhoneNumber: "+16475550123", Provider: db.ProviderTwilio, CountryCode: "CA", CapVoice: true, IsActive: true}
	f.numB = &db.PhoneNumber{OrgID: e.orgB, PhoneNumber: "+16475550199", Provider: db.ProviderTwilio, CountryCode: "CA", CapVoice: true,
		IsActive: true, AssistantID: &f.asstB.ID}
	for _, n := range []*db.PhoneNumber{f.num, f.numB} {
		if err := e.store.SaveNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestAssignAndUnassignANumber(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := newNumbersFixture(t, e)
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/numbers")
		mustContain(t, body, `id="number-`+f.num.ID+`"`, `<option value="`+f.asst.ID+`">Front desk</option>`, `<option value="`+f.trunkID+`">Carrier</option>`)
		if strings.Contains(body, "Globex") {
			t.Fatal("org B's assistants or trunks are offered to org A")
		}

		resp, body := b.post("/console/numbers/"+f.num.ID, url.Values{"assistant_id": {f.asst.ID}, "sip_trunk_id": {f.trunkID}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("assign: %d\n%s", resp.StatusCode, body)
		}
		got, _ := e.store.GetNumber(ctx, e.orgA, f.num.ID)
		if got.AssistantID == nil || *got.AssistantID != f.asst.ID || got.SIPTrunkID == nil || *got.SIPTrunkID != f.trunkID {
			t.Fatalf("after assigning: assistant %v trunk %v", got.AssistantID, got.SIPTrunkID)
		}
		_, body = b.get("/console/numbers")
		mustContain(t, body, `<td class="assistant">Front desk</td>`, `<td class="trunk">Carrier</td>`, `<option value="`+f.asst.ID+`" selected>Front desk</option>`)

		// The outbound assistant, from its own select.
		if resp, body := b.post("/console/numbers/"+f.num.ID, url.Values{"outbound_assistant_id": {f.asst.ID}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("assign the outbound assistant: %d\n%s", resp.StatusCode, body)
		}
		if got, _ = e.store.GetNumber(ctx, e.orgA, f.num.ID); got.OutboundAssistantID == nil || *got.OutboundAssistantID != f.asst.ID {
			t.Fatalf("after assigning the outbound assistant: %v", got.OutboundAssistantID)
		}
		if resp, body := b.post("/console/numbers/"+f.num.ID, url.Values{"outbound_assistant_id": {"nope"}}); resp.StatusCode != http.StatusBadRequest ||
			!strings.Contains(body, `data-field="outbound_assistant_id"`) {
			t.Fatalf("an unknown outbound assistant: %d\n%s", resp.StatusCode, body)
		}

		// Unassigned: the trunk only (a field not posted stays as it is).
		if resp, body := b.post("/console/numbers/"+f.num.ID, url.Values{"sip_trunk_id": {""}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("unassign the trunk: %d\n%s", resp.StatusCode, body)
		}
		got, _ = e.store.GetNumber(ctx, e.orgA, f.num.ID)
		if got.SIPTrunkID != nil || got.AssistantID == nil {
			t.Fatalf("after unassigning the trunk: assistant %v trunk %v", got.AssistantID, got.SIPTrunkID)
		}
		if resp, _ := b.post("/console/numbers/"+f.num.ID, url.Values{"assistant_id": {""}, "sip_trunk_id": {""}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("unassign: %d", resp.StatusCode)
		}
		if got, _ = e.store.GetNumber(ctx, e.orgA, f.num.ID); got.AssistantID != nil {
			t.Fatalf("still assigned to %v", *got.AssistantID)
		}
	})
}

// Org B's assistant or trunk is refused beside its field, in the words
// PATCH /api/v1/phone-numbers/{id} uses; org B's number is not found; a
// POST without the page's CSRF token changes nothing.
func TestNumberAssignmentRefusedAsTheAPIRefusesIt(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := newNumbersFixture(t, e)
		b := e.browser()
		b.signIn(e.keyA)
		b.get("/console/numbers")
		for _, c := range []struct{ field, value string }{{"assistant_id", f.asstB.ID}, {"sip_trunk_id", f.trunkBID}} {
			var apiErr struct {
				Error struct{ Field, Message string }
			}
			if st := e.api(e.keyA, http.MethodPatch, "/api/v1/phone-numbers/"+f.num.ID, map[string]any{c.field: c.value}, &apiErr); st != http.StatusNotFound || apiErr.Error.Field != c.field {
				t.Fatalf("API %s: %d %+v", c.field, st, apiErr)
			}
			resp, body := b.post("/console/numbers/"+f.num.ID, url.Values{c.field: {c.value}})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("console %s of org B: %d", c.field, resp.StatusCode)
			}
			mustContain(t, body, `data-field="`+c.field+`">`+html.EscapeString(apiErr.Error.Message)+`<`)
		}
		if got, _ := e.store.GetNumber(ctx, e.orgA, f.num.ID); got.AssistantID != nil || got.SIPTrunkID != nil {
			t.Fatalf("a refused assignment wrote: %v %v", got.AssistantID, got.SIPTrunkID)
		}

		if resp, _ := b.post("/console/numbers/"+f.numB.ID, url.Values{"assistant_id": {""}}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("org B's number: %d", resp.StatusCode)
		}
		if resp, _ := b.post("/console/numbers/"+f.num.ID, url.Values{"csrf": {""}, "assistant_id": {f.asst.ID}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("without the CSRF token: %d", resp.StatusCode)
		}
		if got, _ := e.store.GetNumber(ctx, e.orgA, f.num.ID); got.AssistantID != nil {
			t.Fatal("a POST without the CSRF token assigned the number")
		}
		if got, _ := e.store.GetNumber(ctx, e.orgB, f.numB.ID); got.AssistantID == nil || *got.AssistantID != f.asstB.ID {
			t.Fatalf("org B's number changed: %v", got.AssistantID)
		}
	})
}

// TestNumbersShowTheirWebhooks: a provider's number shows the webhooks
// sipbridge points it at (PUBLIC_BASE_URL + the provider's routes); a
// number on a SIP trunk has none.
func TestNumbersShowTheirWebhooks(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		f := newNumbersFixture(t, e)
		byo := &db.PhoneNumber{OrgID: e.orgA, PhoneNumber: "+16475550124", Provider: db.ProviderBYOSIP, CountryCode: "CA", CapVoice: true,
			IsActive: true, SIPTrunkID: &f.trunkID}
		if err := e.store.SaveNumber(context.Background(), byo); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/numbers")
		row := func(id string) string {
			i := strings.Index(body, `id="number-`+id+`"`)
			if i < 0 {
				t.Fatalf("no row for %s", id)
			}
			j := strings.Index(body[i:], "</tr>")
			return body[i : i+j]
		}
		mustContain(t, row(f.num.ID), `voice <code>https://bridge.example.com/twiml</code>`, `sms <code>https://bridge.example.com/webhooks/sms/twilio</code>`)
		mustContain(t, row(byo.ID), `<td class="webhooks">none: calls arrive over the SIP trunk</td>`)
	})
}
