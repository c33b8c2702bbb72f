package web_test

import (
	"testing"
)

// The docs' "Use Case 1" creates assistants with their numbers in the body
// (phone_numbers: [{phone_number, provider}]): each number the organization
// has is assigned to the new assistant, the view lists them, and a later
// list replaces them.
func TestAssistantPhoneNumbersAsDocumented(t *testing.T) {
	eachEnv(t, testAssistantPhoneNumbers)
}

func testAssistantPhoneNumbers(t *testing.T, e *env) {
	trunk := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("T"), 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+15551234567", "provider": "byo-sip-trunk", "sip_trunk_id": trunk}, 201)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+15559876543", "provider": "telnyx"}, 201)
	b := e.mustDo("POST", "/api/v1/phone-numbers", e.keyB, map[string]any{"phone_number": "+15555555555", "provider": "twilio"}, 201)

	sales := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{
		"name":          "Sales Dialer Bot",
		"phone_numbers": []any{map[string]any{"phone_number": "+15551234567", "provider": "byo-sip-trunk"}},
	}, 201)
	salesID := sales.Body["id"].(string)
	nums := sales.Body["phone_numbers"].([]any)
	if len(nums) != 1 || nums[0].(map[string]any)["phone_number"] != "+15551234567" || nums[0].(map[string]any)["provider"] != "byo-sip-trunk" {
		t.Fatalf("sales numbers: %s", sales.Raw)
	}
	if got := e.mustDo("GET", "/api/v1/phone-numbers?assistant_id="+salesID, e.keyA, nil, 200); got.Total != 1 || got.List[0].(map[string]any)["assistant_id"] != salesID {
		t.Fatalf("number not assigned: %s", got.Raw)
	}

	before := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).Total
	for _, c := range []struct {
		name  string
		nums  []any
		field string
	}{
		{"not a number of ours", []any{map[string]any{"phone_number": "+15550000000"}}, "phone_numbers[0].phone_number"},
		{"another organization's", []any{map[string]any{"phone_number": "+15559876543"}, map[string]any{"phone_number": "+15555555555"}}, "phone_numbers[1].phone_number"},
		{"wrong provider", []any{map[string]any{"phone_number": "+15559876543", "provider": "twilio"}}, "phone_numbers[0].provider"},
		{"unknown provider", []any{map[string]any{"phone_number": "+15559876543", "provider": "skype"}}, "phone_numbers[0].provider"},
		{"not E.164", []any{map[string]any{"phone_number": "5559876543"}}, "phone_numbers[0].phone_number"},
		{"twice", []any{map[string]any{"phone_number": "+15559876543"}, map[string]any{"phone_number": "+15559876543"}}, "phone_numbers[1].phone_number"},
	} {
		r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Support Bot", "phone_numbers": c.nums})
		if r.Status != 400 || r.errField() != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.Status, r.Raw, c.field)
		}
	}
	if got := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).Total; got != before {
		t.Fatalf("refused creates left assistants behind: %v, want %v", got, before)
	}
	if got := e.mustDo("GET", "/api/v1/phone-numbers/"+b.Body["id"].(string), e.keyB, nil, 200); got.Body["assistant_id"] != nil {
		t.Fatalf("another organization's number was touched: %s", got.Raw)
	}

	// A PUT without phone_numbers keeps them; a list replaces them; [] unassigns all.
	e.mustDo("PUT", "/api/v1/assistants/"+salesID, e.keyA, map[string]any{"name": "Sales"}, 200)
	if got := e.mustDo("GET", "/api/v1/assistants/"+salesID, e.keyA, nil, 200); len(got.Body["phone_numbers"].([]any)) != 1 {
		t.Fatalf("numbers lost on a PUT without them: %s", got.Raw)
	}
	put := e.mustDo("PUT", "/api/v1/assistants/"+salesID, e.keyA, map[string]any{"phone_numbers": []any{map[string]any{"phone_number": "+15559876543", "provider": "telnyx"}}}, 200)
	if nums := put.Body["phone_numbers"].([]any); len(nums) != 1 || nums[0].(map[string]any)["phone_number"] != "+15559876543" {
		t.Fatalf("replaced numbers: %s", put.Raw)
	}
	for _, l := range e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200).List {
		n := l.(map[string]any)
		want := n["phone_number"] == "+15559876543"
		if (n["assistant_id"] == salesID) != want {
			t.Errorf("%s: assistant_id %v after the replace", n["phone_number"], n["assistant_id"])
		}
	}
	if got := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).List; len(got[0].(map[string]any)["phone_numbers"].([]any)) != 1 {
		t.Fatalf("list view: %v", got)
	}
	put = e.mustDo("PUT", "/api/v1/assistants/"+salesID, e.keyA, map[string]any{"phone_numbers": []any{}}, 200)
	if nums := put.Body["phone_numbers"].([]any); len(nums) != 0 {
		t.Fatalf("[] kept numbers: %s", put.Raw)
	}
	if got := e.mustDo("GET", "/api/v1/phone-numbers?assistant_id="+salesID, e.keyA, nil, 200).Total; got != 0 {
		t.Fatalf("numbers still assigned after []: %v", got)
	}
}
