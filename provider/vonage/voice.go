package vonage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

type vonageEndpoint struct {
	Type        string            `json:"type"`
	Number      string            `json:"number,omitempty"`
	URI         string            `json:"uri,omitempty"`
	ContentType string            `json:"content-type,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

type vonageNCCOAction struct {
	Action   string           `json:"action"`
	Endpoint []vonageEndpoint `json:"endpoint"`
}

// CreateCall posts to v1/calls (sent once) with answer_url = Call.URL, or an
// NCCO that connects the call to StreamURL as a websocket (16 kHz L16, the
// StreamParams as headers). It returns the call uuid.
func (v *Client) CreateCall(ctx context.Context, c provider.Call) (string, error) {
	if !provider.IsE164(c.To) || !provider.IsE164(c.From) {
		return "", provider.BadRequest(provider.NameVonage, "call needs E.164 from and to")
	}
	auth, err := v.bearer()
	if err != nil {
		return "", err
	}
	body := map[string]any{
		"to":   []vonageEndpoint{{Type: "phone", Number: wire.DigitsOnly(c.To)}},
		"from": vonageEndpoint{Type: "phone", Number: wire.DigitsOnly(c.From)},
	}
	switch {
	case c.URL != "":
		body["answer_url"] = []string{c.URL}
	case c.StreamURL != "":
		body["ncco"] = []vonageNCCOAction{{
			Action: "connect",
			Endpoint: []vonageEndpoint{{
				Type: "websocket", URI: c.StreamURL,
				ContentType: "audio/l16;rate=16000", Headers: c.StreamParams,
			}},
		}}
	default:
		return "", provider.BadRequest(provider.NameVonage, "call needs a URL or a stream URL")
	}
	if c.StatusCallback != "" {
		body["event_url"] = []string{c.StatusCallback}
	}
	if c.TimeoutSeconds > 0 {
		body["ringing_timer"] = c.TimeoutSeconds
	}
	var res struct {
		UUID string `json:"uuid"`
	}
	if err := v.apiCall(ctx, http.MethodPost, "/v1/calls", auth, body, &res); err != nil {
		return "", err
	}
	if res.UUID == "" {
		return "", &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrProviderDown, Message: "answer without call uuid"}
	}
	return res.UUID, nil
}

// Hangup sends {"action":"hangup"} with PUT v1/calls/{uuid} (idempotent:
// retried).
func (v *Client) Hangup(ctx context.Context, callID string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameVonage, "call id is empty")
	}
	auth, err := v.bearer()
	if err != nil {
		return err
	}
	return v.apiCall(ctx, http.MethodPut, "/v1/calls/"+url.PathEscape(callID), auth,
		map[string]string{"action": "hangup"}, nil)
}

// SendDTMF sends PUT v1/calls/{uuid}/dtmf {"digits": …}: 0-9 * # (Vonage
// has no A-D). A PUT, so retried like every PUT after a 5xx or a network
// error: such a retry may press the keys twice.
func (v *Client) SendDTMF(ctx context.Context, callID, digits string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameVonage, "call id is empty")
	}
	if digits == "" || strings.Trim(digits, "0123456789*#") != "" {
		return provider.BadRequest(provider.NameVonage, "digits %q: Vonage sends 0-9 * # only", digits)
	}
	auth, err := v.bearer()
	if err != nil {
		return err
	}
	return v.apiCall(ctx, http.MethodPut, "/v1/calls/"+url.PathEscape(callID)+"/dtmf", auth,
		map[string]string{"digits": digits}, nil)
}

// Transfer sends a transfer to an NCCO that connects the call to a phone
// number or a sip: URI (PUT v1/calls/{uuid}).
func (v *Client) Transfer(ctx context.Context, callID, to string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameVonage, "call id is empty")
	}
	to = strings.TrimSpace(to)
	var ep vonageEndpoint
	switch {
	case strings.HasPrefix(strings.ToLower(to), "sip:"):
		ep = vonageEndpoint{Type: "sip", URI: to}
	case provider.IsE164(to):
		ep = vonageEndpoint{Type: "phone", Number: wire.DigitsOnly(to)}
	default:
		return provider.BadRequest(provider.NameVonage, "transfer target %q: want E.164 or sip: URI", to)
	}
	auth, err := v.bearer()
	if err != nil {
		return err
	}
	body := map[string]any{
		"action": "transfer",
		"destination": map[string]any{
			"type": "ncco",
			"ncco": []vonageNCCOAction{{Action: "connect", Endpoint: []vonageEndpoint{ep}}},
		},
	}
	return v.apiCall(ctx, http.MethodPut, "/v1/calls/"+url.PathEscape(callID), auth, body, nil)
}

// WebsocketNCCO is the NCCO that connects a call to a media websocket
// as 16 kHz L16; the headers arrive in the websocket's first text message.
func WebsocketNCCO(uri string, headers map[string]string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the URI's & stays readable
	_ = enc.Encode([]vonageNCCOAction{{Action: "connect", Endpoint: []vonageEndpoint{{
		Type: "websocket", URI: uri, ContentType: "audio/l16;rate=16000", Headers: headers}}}})
	return bytes.TrimSpace(b.Bytes())
}
