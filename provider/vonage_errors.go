package provider

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// vonageNumbersError reads a Numbers API answer: {"error-code":"420",
// "error-code-label":"..."}. The error code wins over the HTTP status (the
// API answers some failures with HTTP 200). It returns nil for a success.
// op is "buy", "cancel", "update", "search" or "list": a 420 on a buy means
// the number cannot be had.
func vonageNumbersError(op string, status int, body []byte) *Error {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	code := jsonString(doc["error-code"])
	label := jsonString(doc["error-code-label"])
	if status >= 200 && status <= 299 && (code == "" || code == "200") {
		return nil
	}
	e := &Error{Provider: NameVonage, Status: status, Code: code, Message: label}
	if e.Message == "" {
		e.Message = snippet(body)
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	n, err := strconv.Atoi(code)
	if err != nil || n == 0 {
		n = status
	}
	switch {
	case n == http.StatusUnauthorized || n == http.StatusForbidden:
		e.Kind = ErrInvalidCredentials
	case mentionsBalance(e.Message):
		e.Kind = ErrInsufficientBalance
	case n == 420 && op == "buy":
		e.Kind = ErrNumberUnavailable
	case n == 420:
		e.Kind = ErrBadRequest
	case n >= 200 && n <= 299:
		// HTTP error with a success code: trust the HTTP status.
		e.Kind = kindForStatus(status)
	default:
		e.Kind = kindForStatus(n)
	}
	return e
}

// vonageSMSStatus maps a non-zero SMS API message status
// (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms).
func vonageSMSStatus(status string) error {
	switch status {
	case "1", "10": // Throttled; Too many existing binds
		return ErrRateLimited
	case "4", "8", "11", "14", "32": // Invalid credentials; Partner account barred;
		// Account not enabled for HTTP; Invalid signature; Signature and API secret disallowed
		return ErrInvalidCredentials
	case "5": // Internal error
		return ErrProviderDown
	case "9": // Partner quota violation: not enough balance
		return ErrInsufficientBalance
	default: // 2 Missing params, 3 Invalid params, 6 Invalid message, 7 Number barred,
		// 12 Message too long, 15 Invalid sender address, 22 Invalid network code,
		// 23 Invalid callback URL, 29 Non-whitelisted destination, 33 Number de-activated
		return ErrBadRequest
	}
}

// vonageSMSResult is one entry of the SMS API's "messages".
type vonageSMSResult struct {
	To        string
	MessageID string
	Status    string
	ErrorText string
}

// parseVonageSMS reads an SMS API answer: {"message-count":"1","messages":
// [{"to","message-id","status","error-text"}]}. Status may be a string or a
// number.
func parseVonageSMS(body []byte) ([]vonageSMSResult, bool) {
	var doc struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, false
	}
	out := make([]vonageSMSResult, 0, len(doc.Messages))
	for _, m := range doc.Messages {
		if m == nil {
			continue
		}
		out = append(out, vonageSMSResult{
			To:        jsonString(m["to"]),
			MessageID: jsonString(m["message-id"]),
			Status:    jsonString(m["status"]),
			ErrorText: jsonString(m["error-text"]),
		})
	}
	return out, true
}

// classifyVonageSMS turns an SMS API answer into an error, or nil when the
// message went out: a long text is split into parts, each with its status,
// and once any part was accepted the message is sent (a retry would send
// those parts twice), so only an answer with no part accepted is an error.
// A 2xx answer that cannot be read is not retryable either: Vonage may
// have sent the message.
func classifyVonageSMS(status int, body []byte) *Error {
	msgs, ok := parseVonageSMS(body)
	if status < 200 || status > 299 || !ok || len(msgs) == 0 {
		kind := kindForStatus(status)
		if status >= 200 && status <= 299 {
			kind = ErrBadRequest // a 2xx we cannot read: the outcome is unknown, never resent
		}
		return &Error{Provider: NameVonage, Kind: kind, Status: status, Message: "sms: " + snippet(body)}
	}
	for _, m := range msgs {
		if m.Status == "0" {
			return nil
		}
	}
	m := msgs[0]
	return &Error{Provider: NameVonage, Kind: vonageSMSStatus(m.Status), Code: m.Status, Message: m.ErrorText}
}

// classifyVonageProblem maps an RFC 7807 answer of the Messages and Voice
// APIs: {"type":".../Errors#low-balance","title","detail"}.
func classifyVonageProblem(status int, body []byte) *Error {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	typ := jsonString(doc["type"])
	title := jsonString(doc["title"])
	detail := jsonString(doc["detail"])
	msg := title
	if detail != "" && detail != title {
		if msg != "" {
			msg += ": "
		}
		msg += detail
	}
	if msg == "" {
		msg = snippet(body)
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	code := typ
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		code = typ[i+1:]
	}
	e := &Error{Provider: NameVonage, Status: status, Code: code, Message: msg}
	switch {
	case code == "low-balance" || code == "out-of-credit" || mentionsBalance(msg):
		e.Kind = ErrInsufficientBalance
	case code == "unauthorized" || code == "invalid-api-key" || code == "jwt-expired" || code == "jwt-revoked" ||
		code == "account-suspended" || code == "unprovisioned":
		e.Kind = ErrInvalidCredentials
	case code == "throttled" || code == "rate-limit":
		e.Kind = ErrRateLimited
	case code == "not-found":
		e.Kind = ErrNotFound
	default:
		e.Kind = kindForStatus(status)
	}
	return e
}
