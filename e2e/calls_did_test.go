package e2e

import (
	"strings"
	"testing"
	"time"
)

func init() {
	addScenario(scenario{"did_resolution", testDIDResolution},
		scenario{"refusals", testRefusals},
	)
}

// Each call scenario lets its sipp peers in from a loopback address of its
// own (any 127.x.y.z is the machine on Linux), so that no two trunks of a
// run allow the same source (FreeSWITCH names the first list that matches).
const (
	srcDIDMain     = "127.0.0.11" // did_resolution: the PBX trunk with two numbers
	srcDIDBranch   = "127.0.0.12" // did_resolution: the trunk with one number
	srcRefusals    = "127.0.0.13"
	srcAudio       = "127.0.0.14"
	srcRefer       = "127.0.0.15"
	srcOutbound    = "127.0.0.16"
	srcLoad        = "127.0.0.17"
	srcNotInAnyACL = "127.0.0.19"
)

// didCase is one INVITE form of the README's DID table and where it must
// land.
type didCase struct {
	name   string
	src    string
	call   uacCall
	did    string // resolved_did and start.customParameters.to
	source string // did_source
	asst   string // "main" | "sales"
}

// testDIDResolution: a call for every header form the README's "Which
// number was called" section documents (Diversion once and twice, the
// oldest winning; History-Info; X-Original-Called / X-Original-Number /
// X-Forwarded-To / X-Original-To; P-Called-Party-ID; the Request-URI with
// and without user=phone; national 10- and 11-digit forms; an extension on
// a trunk with exactly one number) reaches the assistant of the number it
// names: the assistant's start has that number as `to` and its own
// assistant_id, the call record has the resolved_did, the did_source and
// the assistant, and closes completed. Some INVITEs carry two headers
// naming different numbers, to pin the order (Diversion before
// X-Original-Called, X-Original-Number before P-Called-Party-ID).
func testDIDResolution(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	ids := map[string]string{
		"main":  b.CreateAssistant(t, "DID Main", asst, nil),
		"sales": b.CreateAssistant(t, "DID Sales", asst, nil),
	}
	pbx := b.ipTrunk(t, "DID PBX", srcDIDMain, srcDIDMain+":5060", nil)
	branch := b.ipTrunk(t, "DID Branch", srcDIDBranch, srcDIDBranch+":5060", nil)
	const main, sales, branchNo = "+16478491000", "+16478491001", "+16478491002"
	b.addNumberOn(t, main, ids["main"], pbx.ID)
	b.addNumberOn(t, sales, ids["sales"], pbx.ID)
	b.addNumberOn(t, branchNo, ids["main"], branch.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	phone := func(from, user string) uacCall {
		c := toUser(from, user)
		c.RURI = "sip:" + user + "@[remote_ip]:[remote_port];user=phone"
		c.ToHdr = "<tel:" + user + ">"
		return c
	}
	cases := []didCase{
		{"diversion", srcDIDMain, toUser("+14165550201", "9228",
			"Diversion: <sip:+16478491001@pbx.example.com>;reason=unconditional",
			"X-Original-Called: +16478491000"), sales, "diversion", "sales"},
		{"diversion twice, the oldest (bottom) wins", srcDIDMain, toUser("+14165550202", "9228",
			"Diversion: <sip:+16478491001@pbx.example.com>;reason=unconditional",
			"Diversion: <sip:+16478491000@pbx.example.com>;reason=user-busy"), main, "diversion", "main"},
		{"diversion national 10 digits", srcDIDMain, toUser("+14165550203", "9228",
			"Diversion: <sip:6478491001@pbx.example.com>;reason=unconditional"), sales, "diversion", "sales"},
		{"history-info, index 1 wins", srcDIDMain, toUser("+14165550204", "9228",
			"History-Info: <sip:+16478491001@pbx.example.com>;index=1, <sip:+16478491000@pbx.example.com>;index=1.1"), sales, "history-info", "sales"},
		{"x-original-called", srcDIDMain, toUser("+14165550205", "9228", "X-Original-Called: +16478491000"), main, "x-original-called", "main"},
		{"x-original-number", srcDIDMain, toUser("+14165550206", "9228",
			"X-Original-Number: <sip:+16478491001@pbx.example.com>",
			"P-Called-Party-ID: <sip:+16478491000@pbx.example.com>"), sales, "x-original-number", "sales"},
		{"x-forwarded-to", srcDIDMain, toUser("+14165550207", "9228", "X-Forwarded-To: tel:+16478491000"), main, "x-forwarded-to", "main"},
		{"x-original-to national 11 digits", srcDIDMain, toUser("+14165550208", "9228", "X-Original-To: 16478491001"), sales, "x-original-to", "sales"},
		{"p-called-party-id", srcDIDMain, toUser("+14165550209", "9228",
			"P-Called-Party-ID: <sip:+16478491000@pbx.example.com;user=phone>"), main, "p-called-party-id", "main"},
		{"request-uri user=phone, To tel:", srcDIDMain, phone("+14165550210", "+16478491001"), sales, "request-uri", "sales"},
		{"request-uri", srcDIDMain, toUser("+14165550211", "+16478491000"), main, "request-uri", "main"},
		{"request-uri national 10 digits", srcDIDMain, toUser("+14165550212", "6478491001"), sales, "request-uri", "sales"},
		{"request-uri national 11 digits", srcDIDMain, toUser("+14165550213", "16478491000"), main, "request-uri", "main"},
		{"extension, trunk with one number", srcDIDBranch, toUser("+14165550214", "9228"), branchNo, "extension", "main"},
	}
	runUACs(t, b, cases, 5)

	for _, tc := range cases {
		from := tc.call.From
		rec := b.waitRecord(t, tc.name+": the call record closed", 10*time.Second, func(c CallRecord) bool {
			return c.From == from && c.EndedAt != nil
		})
		if rec.ResolvedDID != tc.did || rec.DIDSource != tc.source || rec.Status != "completed" ||
			rec.AssistantID == nil || *rec.AssistantID != ids[tc.asst] {
			t.Errorf("%s: record resolved_did %s did_source %s status %s assistant %v; want %s from %s, completed, assistant %s (%s)",
				tc.name, rec.ResolvedDID, rec.DIDSource, rec.Status, deref(rec.AssistantID), tc.did, tc.source, tc.asst, ids[tc.asst])
		}
		ac := asst.ByParam(t, "from", from, 5*time.Second)
		if to, id := ac.Param("to"), ac.Param("assistant_id"); to != tc.did || id != ids[tc.asst] {
			t.Errorf("%s: the assistant's start says to %s assistant_id %s; want %s and %s (%s)", tc.name, to, id, tc.did, ids[tc.asst], tc.asst)
		}
		if ac.Param("direction") != "inbound" {
			t.Errorf("%s: start direction %q, want inbound", tc.name, ac.Param("direction"))
		}
	}
	// The X- headers of the INVITE travel in customParameters (README, Calls).
	if ac := asst.ByParam(t, "from", "+14165550205", time.Second); ac.Param("X-Original-Called") != "+16478491000" {
		t.Errorf("customParameters %v: want X-Original-Called +16478491000", ac.Start()["customParameters"])
	}
}

// runUACs runs every case's caller (uac-hold.xml, one call each), n at a
// time, and fails the test for each sipp that did not end its call well.
func runUACs(t *testing.T, b *Bridge, cases []didCase, n int) {
	t.Helper()
	for i := 0; i < len(cases); i += n {
		batch := cases[i:min(i+n, len(cases))]
		sipps := make([]*Sipp, len(batch))
		for j, tc := range batch {
			sipps[j] = StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: tc.src, Remote: b.SW.remote(), Calls: 1,
				Timeout: 20 * time.Second, Data: tc.call})
		}
		for j, s := range sipps {
			if code := s.Wait(t, 30*time.Second); code != 0 {
				t.Errorf("%s: sipp exited %d (%s): %s", batch[j].name, code, sippExit(code), s.Report())
			}
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// refusal is one call the routing table refuses, with the SIP status sipp
// must get and the refused record the README documents (reason "" = no
// record: FreeSWITCH refuses it before sipbridge sees it).
type refusal struct {
	name   string
	src    string
	call   call // uac-refused.xml
	reason string
}

// testRefusals: each refusal of the README's Calls table reaches the caller
// with its SIP status as sipp sees it, and leaves a refused record with
// that sip_status and the documented reason: an unknown number 404, an
// extension matching the trunk's two numbers 404 (never a guess), a number
// without an assistant 480, a caller from a country the number does not
// allow 403 (while a caller from an allowed country gets through), and a
// source in no trunk's ACL list 403 from FreeSWITCH itself (no channel, no
// record).
func testRefusals(t *testing.T, b *Bridge) {
	sw := b.SW
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Refusals Desk", asst, nil)
	tr := b.ipTrunk(t, "Refusals PBX", srcRefusals, srcRefusals+":5060", nil)
	b.addNumberOn(t, "+16478492000", asstID, tr.ID)
	b.addNumberOn(t, "+16478492001", asstID, tr.ID)
	b.addNumberOn(t, "+16478492009", "", tr.ID)
	usOnly := b.addNumberOn(t, "+16478492004", asstID, tr.ID)
	var nv struct {
		Allowed []string `json:"allowed_country_codes"`
	}
	b.API.Call(t, "PATCH", "/api/v1/phone-numbers/"+usOnly, map[string]any{"allowed_country_codes": []string{"US"}}, 200, &nv)
	if len(nv.Allowed) != 1 || nv.Allowed[0] != "US" {
		t.Fatalf("PATCH allowed_country_codes: the number shows %q", nv.Allowed)
	}
	sw.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	cases := []refusal{
		{"unknown number", srcRefusals, call{From: "+14165550301", To: "9228", Code: 404,
			Headers: []string{"X-Original-Called: +16478490000"}}, "not an active number"},
		{"ambiguous extension", srcRefusals, call{From: "+14165550302", To: "9228", Code: 404}, "several numbers"},
		{"number without assistant", srcRefusals, call{From: "+14165550303", To: "9228", Code: 480,
			Headers: []string{"Diversion: <sip:+16478492009@pbx.example.com>;reason=unconditional"}}, "no assistant"},
		{"caller country not allowed", srcRefusals, call{From: "+14165550304", To: "+16478492004", Code: 403}, "country"},
		{"source in no ACL list", srcNotInAnyACL, call{From: "+14165550399", To: "+16478492000", Code: 403}, ""},
	}
	m := sw.Mark()
	var sipps []*Sipp
	for _, tc := range cases {
		sipps = append(sipps, StartSipp(t, SippOptions{Scenario: "uac-refused.xml", IP: tc.src, Remote: sw.remote(), Calls: 1,
			Timeout: 15 * time.Second, Data: tc.call}))
	}
	// The allowed country's caller gets through to the same number.
	allowed := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcRefusals, Remote: sw.remote(), Calls: 1, Timeout: 15 * time.Second,
		Data: toUser("+12125550305", "+16478492004")})
	for i, s := range sipps {
		if code := s.Wait(t, 25*time.Second); code != 0 {
			t.Errorf("%s: sipp did not get %d (exit %d, %s): %s", cases[i].name, cases[i].call.Code, code, sippExit(code), s.Report())
		}
	}
	if code := allowed.Wait(t, 25*time.Second); code != 0 {
		t.Errorf("a caller from an allowed country (US) was not put through: sipp exit %d (%s): %s", code, sippExit(code), allowed.Report())
	}

	for _, tc := range cases {
		if tc.reason == "" {
			continue
		}
		from := tc.call.From
		rec := b.waitRecord(t, tc.name+": a refused record", 5*time.Second, func(c CallRecord) bool { return c.From == from && c.EndedAt != nil })
		if rec.Status != "refused" || rec.SIPStatus != tc.call.Code || !strings.Contains(rec.Reason, tc.reason) || rec.AnsweredAt != nil ||
			rec.TrunkID == nil || *rec.TrunkID != tr.ID {
			t.Errorf("%s: record status %s sip_status %d reason %q answered %v trunk %v; want refused %d, reason with %q, on trunk %s",
				tc.name, rec.Status, rec.SIPStatus, rec.Reason, rec.AnsweredAt, deref(rec.TrunkID), tc.call.Code, tc.reason, tr.ID)
		}
	}
	rec := b.waitRecord(t, "the allowed caller's record", 5*time.Second, func(c CallRecord) bool { return c.From == "+12125550305" && c.EndedAt != nil })
	if rec.Status != "completed" || rec.ResolvedDID != "+16478492004" {
		t.Errorf("the allowed caller's record: %s", jsonString(rec))
	}
	asst.ByParam(t, "from", "+12125550305", 5*time.Second)

	// FreeSWITCH refused the unlisted source itself: no channel, no record.
	for _, e := range sw.EventsSince(m, "CHANNEL_CREATE") {
		if e.Get("Caller-Network-Addr") == srcNotInAnyACL {
			t.Errorf("an INVITE from %s (in no ACL list) created channel %s", srcNotInAnyACL, e.UUID())
		}
	}
	for _, c := range b.callRecords(t, "") {
		if c.From == "+14165550399" {
			t.Errorf("an INVITE refused by FreeSWITCH left a record: %s", jsonString(c))
		}
	}
	if n := len(asst.Conns()); n != 1 {
		t.Errorf("%d streams reached the assistant, want 1 (the allowed caller): refused calls must not", n)
	}
}
