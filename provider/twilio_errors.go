package provider

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
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
		e.Message = snippet(body)
		if e.Message == "" {
			e.Message = strings.ToLower(http.StatusText(status))
		}
		return e
	}
	e.Code, _ = jsonInt(m["code"])
	e.Message = jsonString(m["message"])
	e.MoreInfo = jsonString(m["more_info"])
	if s, ok := jsonInt(m["status"]); ok && status == 0 {
		e.Status = s
	}
	return e
}

// classifyTwilio maps a Twilio error to a sentinel: the code first, then the
// HTTP status.
func classifyTwilio(status, code int, msg string) *Error {
	e := &Error{Provider: NameTwilio, Status: status, Message: msg}
	if code != 0 {
		e.Code = strconv.Itoa(code)
	}
	switch code {
	case twilioCodeNumberUnavailable, twilioCodeNoNumbersFound:
		e.Kind = ErrNumberUnavailable
	case twilioCodeAuth, twilioCodeAccountNotActive, twilioCodeBadUsername, twilioCodeBadPassword:
		e.Kind = ErrInvalidCredentials
	case twilioCodeRateLimited:
		e.Kind = ErrRateLimited
	case twilioCodeNotFound:
		e.Kind = ErrNotFound
	default:
		switch {
		case status >= 400 && status < 500 && mentionsBalance(msg):
			e.Kind = ErrInsufficientBalance
		default:
			e.Kind = kindForStatus(status)
		}
	}
	return e
}

// jsonString renders a decoded JSON scalar as a string.
func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return ""
	}
}

// jsonInt reads a decoded JSON number or numeric string as an int.
func jsonInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != x || x > 1<<31 || x < -(1<<31) { // NaN or out of range
			return 0, false
		}
		return int(x), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n > 1<<31 || n < -(1<<31) {
			return 0, false
		}
		return n, true
	default:
		return 0, false
	}
}
