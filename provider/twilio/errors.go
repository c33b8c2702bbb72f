package twilio

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Twilio error codes we classify (https://www.twilio.com/docs/api/errors).
const (
	twilioCodeAuth              = 20003 // Authentication Error / Permission Denied
	twilioCodeNotFound          = 20404 // The requested resource was not found
	twilioCodeRateLimited       = 20429 // Too Many Requests
	twilioCodeAccountNotActive  = 20005 // Account not active
	twilioCodeBadUsername       = 21222 // twilio-go: illegal chars in the account SID
	twilioCodeBadPassword       = 21224 // twilio-go: illegal chars in the auth token
	twilioCodeNumberUnavailable = 21422 // PhoneNumber is not available
	twilioCodeNoNumbersFound    = 21452 // No phone numbers found in area code
)

// twilioAPIError is Twilio's error body {code, message, more_info, status}.
type twilioAPIError struct {
	Code     int
	Message  string
	MoreInfo string
	Status   int
}

// parseTwilioError reads an error body leniently: code and status may be
// numbers or strings; a body that is not a JSON object yields its text as
// the message.
func parseTwilioError(status int, body []byte) twilioAPIError {
	e := twilioAPIError{Status: status}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		e.Message = wire.Snippet(body)
		if e.Message == "" {
			e.Message = strings.ToLower(http.StatusText(status))
		}
		return e
	}
	e.Code, _ = wire.JSONInt(m["code"])
	e.Message = wire.JSONString(m["message"])
	e.MoreInfo = wire.JSONString(m["more_info"])
	if s, ok := wire.JSONInt(m["status"]); ok && status == 0 {
		e.Status = s
	}
	return e
}

// classifyTwilio maps a Twilio error to a sentinel: the code first, then the
// HTTP status.
func classifyTwilio(status, code int, msg string) *provider.Error {
	e := &provider.Error{Provider: provider.NameTwilio, Status: status, Message: msg}
	if code != 0 {
		e.Code = strconv.Itoa(code)
	}
	switch code {
	case twilioCodeNumberUnavailable, twilioCodeNoNumbersFound:
		e.Kind = provider.ErrNumberUnavailable
	case twilioCodeAuth, twilioCodeAccountNotActive, twilioCodeBadUsername, twilioCodeBadPassword:
		e.Kind = provider.ErrInvalidCredentials
	case twilioCodeRateLimited:
		e.Kind = provider.ErrRateLimited
	case twilioCodeNotFound:
		e.Kind = provider.ErrNotFound
	default:
		switch {
		case status >= 400 && status < 500 && wire.MentionsBalance(msg):
			e.Kind = provider.ErrInsufficientBalance
		default:
			e.Kind = wire.KindForStatus(status)
		}
	}
	return e
}
