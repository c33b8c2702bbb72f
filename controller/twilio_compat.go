package controller

import "github.com/sipbridge/sipbridge/call"

// TwilioAccountSID is the organization's account SID on sipbridge's
// Twilio-compatible call-control route (call.TwilioAccountSID, shared with
// the hosted path).
func TwilioAccountSID(orgID int64) string { return call.TwilioAccountSID(orgID) }
