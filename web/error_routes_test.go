package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

// The organization has no enabled trunk: an outbound call and a bridged
// transfer both answer 422 no_trunk naming the destination (the outbound
// call answered 502 before, as if an upstream had failed; nothing upstream
// was asked).
func TestNoEnabledTrunkIs422(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) { noEnabledTrunk(t, newCallEnvOn(t, callEnvConfig{DB: g})) })
}

func noEnabledTrunk(t *testing.T, ce *callEnv) {
	ce.loadTrunks()
	ce.allowCountries("*")
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	_ = ce.asst.next(3 * time.Second)
	rec := ce.waitCall(uuid, db.CallInProgress, 3*time.Second)

	ce.trunk.Enabled = false
	if err := ce.store.UpdateTrunk(context.Background(), ce.trunk); err != nil {
		t.Fatal(err)
	}
	r := ce.do("POST", "/api/v1/calls/initiate", ce.keyA, initiateBody("+16478491000", "+14165550199"))
	if r.Status != http.StatusUnprocessableEntity || r.errCode() != "no_trunk" || r.errField() != "to_phone_number" {
		t.Fatalf("initiate without an enabled trunk: %d %s", r.Status, r.Raw)
	}
	r = ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "+14165550199", "mode": "bridge"})
	if r.Status != http.StatusUnprocessableEntity || r.errCode() != "no_trunk" || r.errField() != "to" {
		t.Fatalf("transfer without an enabled trunk: %d %s", r.Status, r.Raw)
	}
	if n := len(ce.commandsWith("originate")); n != 0 {
		t.Fatalf("%d originates without a trunk", n)
	}
}

// A call whose record is in progress but that is live nowhere (sipbridge
// restarted): hanging it up or redirecting it answers the error table's 409
// call_not_live, in the API's shape and in Twilio's.
func TestCallNotLiveIs409(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		call := &db.Call{OrgID: e.orgA, Direction: db.DirectionInbound, Status: db.CallInProgress, FromNumber: "+14165550100",
			ToNumber: "+16478491000", StartedAt: time.Now()}
		if err := e.store.CreateCall(context.Background(), call); err != nil {
			t.Fatal(err)
		}
		r := e.do("POST", "/api/v1/calls/"+call.ID+"/hangup", e.keyA, nil)
		if r.Status != http.StatusConflict || r.errCode() != "call_not_live" {
			t.Fatalf("API hangup: %d %s", r.Status, r.Raw)
		}
		acct := e.compatSID(e.keyA)
		twilioShaped(t, "Twilio hangup", e.twilioCompat(twReq{account: acct, sid: call.ID, user: acct, pass: e.keyA,
			form: url.Values{"Status": {"completed"}}}), 409, 20409, "not live")
		twilioShaped(t, "Twilio redirect", e.twilioCompat(twReq{account: acct, sid: call.ID, user: acct, pass: e.keyA,
			form: url.Values{"Twiml": {"<Response><Dial>+16475550100</Dial></Response>"}}}), 409, 20409, "not live")
	})
}
