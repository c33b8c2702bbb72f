package vonage

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// vonageNumbersError reads a Numbers API answer: {"error-code":"420",
// "error-code-label":"..."}. The error code wins over the HTTP status (the
// API answers some failures with HTTP 200). It returns nil for a success.
// op is "buy", "cancel", "update", "search" or "list": a 420 on a buy means
// the number cannot be had.
func vonageNumbersError(op string, status int, body []byte) *provider.Error {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	code := wire.JSONString(doc["error-code"])
	label := wire.JSONString(doc["error-code-label"])
	if status >= 200 && status <= 299 && (code == "" || code == "200") {
		return nil
	}
	e := &provider.Error{Provider: provider.NameVonage, Status: status, Code: code, Message: label}
	if e.Message == "" {
		e.Message = wire.Snippet(body)
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
		e.Kind = provider.ErrInvalidCredentials
	case wire.MentionsBalance(e.Message):
		e.Kind = provider.ErrInsufficientBalance
	case n == 420 && op == "buy":
		e.Kind = provider.ErrNumberUnavailable
	case n == 420:
		e.Kind = provider.ErrBadRequest
	case n >= 200 && n <= 299:
		// HTTP error with a success code: trust the HTTP status.
		e.Kind = wire.KindForStatus(status)
	default:
		e.Kind = wire.KindForStatus(n)
	}
	return e
}

// vonageSMSStatus maps a non-zero SMS API message status
// (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms).
func vonageSMSStatus(status string) error {
	switch status {
	case "1", "10": // Throttled; Too many existing binds
		return provider.ErrRateLimited
	case "4", "8", "11", "14", "32": // Invalid credentials; Partner account barred;
		// Account not enabled for HTTP; Invalid signature; Signature and API secret disallowed
		return provider.ErrInvalidCredentials
	case "5": // Internal error
		return provider.ErrProviderDown
	case "9": // Partner quota violation: not enough balance
		return provider.ErrInsufficientBalance
	default: // 2 Missing params, 3 Invalid params, 6 Invalid message, 7 Number barred,
		// 12 Message too long, 15 Invalid sender address, 22 Invalid network code,
		// 23 Invalid callback URL, 29 Non-whitelisted destination, 33 Number de-activated
		return provider.ErrBadRequest
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
			To:        wire.JSONString(m["to"]),
			MessageID: wire.JSONString(m["message-id"]),
			Status:    wire.JSONString(m["status"]),
			ErrorText: wire.JSONString(m["error-text"]),
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
func classifyVonageSMS(status int, body []byte) *provider.Error {
	msgs, ok := parseVonageSMS(body)
	if status < 200 || status > 299 || !ok || len(msgs) == 0 {
		kind := wire.KindForStatus(status)
		if status >= 200 && status <= 299 {
			kind = provider.ErrBadRequest // a 2xx we cannot read: the outcome is unknown, never resent
		}
		return &provider.Error{Provider: provider.NameVonage, Kind: kind, Status: status, Message: "sms: " + wire.Snippet(body)}
	}
	for _, m := range msgs {
		if m.Status == "0" {
			return nil
		}
	}
	m := msgs[0]
	return &provider.Error{Provider: provider.NameVonage, Kind: vonageSMSStatus(m.Status), Code: m.Status, Message: m.ErrorText}
}

// classifyVonageProblem maps an RFC 7807 answer of the Messages and Voice
// APIs: {"type":".../Errors#low-balance","title","detail"}.
func classifyVonageProblem(status int, body []byte) *provider.Error {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	typ := wire.JSONString(doc["type"])
	title := wire.JSONString(doc["title"])
	detail := wire.JSONString(doc["detail"])
	msg := title
	if detail != "" && detail != title {
		if msg != "" {
			msg += ": "
		}
		msg += detail
	}
	if msg == "" {
		msg = wire.Snippet(body)
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	code := typ
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		code = typ[i+1:]
	}
	e := &provider.Error{Provider: provider.NameVonage, Status: status, Code: code, Message: msg}
	switch {
	case code == "low-balance" || code == "out-of-credit" || wire.MentionsBalance(msg):
		e.Kind = provider.ErrInsufficientBalance
	case code == "unauthorized" || code == "invalid-api-key" || code == "jwt-expired" || code == "jwt-revoked" ||
		code == "account-suspended" || code == "unprovisioned":
		e.Kind = provider.ErrInvalidCredentials
	case code == "throttled" || code == "rate-limit":
		e.Kind = provider.ErrRateLimited
	case code == "not-found":
		e.Kind = provider.ErrNotFound
	default:
		e.Kind = wire.KindForStatus(status)
	}
	return e
}
