package call

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// TwilioAccountSID is the organization's account SID on sipbridge's
// Twilio-compatible call-control route
// (POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json), and what
// the `start` and `stop` messages to its assistants carry as accountSid:
// "AC" followed by the first 16 bytes, in lowercase hex, of SHA-256 over a
// fixed label and the organization id. It is stable, and it is not a
// secret: the route authenticates with one of the organization's API keys.
func TwilioAccountSID(orgID int64) string {
	sum := sha256.Sum256([]byte("sipbridge twilio-compatible account sid\x00" + strconv.FormatInt(orgID, 10)))
	return "AC" + hex.EncodeToString(sum[:16])
}
