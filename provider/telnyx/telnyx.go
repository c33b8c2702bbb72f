// Package telnyx is the Telnyx (API v2) client of provider: numbers,
// messages, Call Control calls and their media streams, the Ed25519 webhook
// signature checks, the parsing of messaging webhooks and the mapping of
// Telnyx's errors to provider's sentinels.
package telnyx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Client is the Telnyx API v2 client (Bearer API key): available_phone_numbers,
// number_orders, phone_numbers, messages and Call Control (calls, actions).
//
// Telnyx routes a number's traffic through its connection (voice) and
// messaging profile (SMS): the webhook URLs live there, so ConfigureWebhooks
// assigns Webhooks.ConnectionID and Webhooks.MessagingProfileID (defaulting to
// the credentials') and ignores the URL fields.
type Client struct {
	creds provider.TelnyxCreds
	core  *wire.Core
	base  string
}

var (
	_ provider.Provider   = (*Client)(nil)
	_ provider.DTMFSender = (*Client)(nil)
)

// telnyxMaxPages bounds ListOwned.
const telnyxMaxPages = 200

// New returns a Telnyx client. The API key is required.
func New(creds provider.TelnyxCreds, cfg provider.Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if !creds.MessagingReady() {
		return nil, &provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrInvalidCredentials, Message: "API key is required"}
	}
	base, err := provider.ParseBaseURL(cfg.TelnyxBaseURL)
	if err != nil {
		return nil, provider.BadRequest(provider.NameTelnyx, "%v", err)
	}
	return &Client{creds: creds, core: wire.NewCore(provider.NameTelnyx, cfg), base: base.String()}, nil
}

// Name is NameTelnyx.
func (t *Client) Name() string { return provider.NameTelnyx }

// call sends one JSON request and decodes the answer's body into out.
func (t *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := t.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+t.creds.APIKey)
	h.Set("Accept", "application/json")
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return provider.BadRequest(provider.NameTelnyx, "encoding request: %v", err)
		}
		h.Set("Content-Type", "application/json")
	}
	resp, err := t.core.Do(ctx, method, u, h, body)
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return classifyTelnyx(resp.Status, resp.Body)
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return &provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrProviderDown, Status: resp.Status,
				Message: "unexpected answer: " + err.Error()}
		}
	}
	return nil
}

type telnyxAvailable struct {
	PhoneNumber     string `json:"phone_number"`
	CostInformation struct {
		MonthlyCost string `json:"monthly_cost"`
		Currency    string `json:"currency"`
	} `json:"cost_information"`
	Features []struct {
		Name string `json:"name"`
	} `json:"features"`
	RegionInformation []struct {
		RegionType string `json:"region_type"`
		RegionName string `json:"region_name"`
	} `json:"region_information"`
}

// SearchNumbers queries available_phone_numbers with filter[country_code],
// filter[national_destination_code] (area code),
// filter[phone_number][contains], filter[locality],
// filter[administrative_area] (region) and filter[limit].
func (t *Client) SearchNumbers(ctx context.Context, q provider.SearchQuery) ([]provider.AvailableNumber, error) {
	country := strings.ToUpper(strings.TrimSpace(q.CountryCode))
	if len(country) != 2 {
		return nil, provider.BadRequest(provider.NameTelnyx, "country code %q: want ISO 3166-1 alpha-2", q.CountryCode)
	}
	v := url.Values{}
	v.Set("filter[country_code]", country)
	if q.AreaCode != "" {
		v.Set("filter[national_destination_code]", q.AreaCode)
	}
	if q.Contains != "" {
		v.Set("filter[phone_number][contains]", q.Contains)
	}
	if q.Locality != "" {
		v.Set("filter[locality]", q.Locality)
	}
	if q.Region != "" {
		v.Set("filter[administrative_area]", q.Region)
	}
	if q.Limit > 0 {
		v.Set("filter[limit]", strconv.Itoa(q.Limit))
	}
	var res struct {
		Data []telnyxAvailable `json:"data"`
	}
	if err := t.call(ctx, http.MethodGet, "/available_phone_numbers", v, nil, &res); err != nil {
		return nil, err
	}
	out := make([]provider.AvailableNumber, 0, len(res.Data))
	for _, n := range res.Data {
		a := provider.AvailableNumber{
			PhoneNumber: n.PhoneNumber,
			CountryCode: country,
			MonthlyCost: n.CostInformation.MonthlyCost,
			Currency:    n.CostInformation.Currency,
		}
		for _, f := range n.Features {
			switch strings.ToLower(f.Name) {
			case "voice":
				a.Capabilities.Voice = true
			case "sms":
				a.Capabilities.SMS = true
			case "mms":
				a.Capabilities.MMS = true
			}
		}
		for _, r := range n.RegionInformation {
			switch r.RegionType {
			case "country_code":
				a.CountryCode = r.RegionName
			case "state":
				a.Region = r.RegionName
			case "location":
				a.Locality = r.RegionName
			case "rate_center":
				if a.Locality == "" {
					a.Locality = r.RegionName
				}
			}
		}
		out = append(out, a)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

type telnyxOrderReq struct {
	PhoneNumbers       []telnyxOrderNumber `json:"phone_numbers"`
	ConnectionID       string              `json:"connection_id,omitempty"`
	MessagingProfileID string              `json:"messaging_profile_id,omitempty"`
	CustomerReference  string              `json:"customer_reference,omitempty"`
}

type telnyxOrderNumber struct {
	ID          string `json:"id,omitempty"`
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status,omitempty"`
}

// Purchase creates a number order (POST, sent once) carrying connection_id
// and messaging_profile_id, so the number is routed from the start.
func (t *Client) Purchase(ctx context.Context, req provider.PurchaseRequest) (provider.Purchased, error) {
	if !provider.IsE164(req.PhoneNumber) {
		return provider.Purchased{}, provider.BadRequest(provider.NameTelnyx, "phone number %q: want E.164", req.PhoneNumber)
	}
	body := telnyxOrderReq{
		PhoneNumbers:       []telnyxOrderNumber{{PhoneNumber: req.PhoneNumber}},
		ConnectionID:       wire.FirstSet(req.ConnectionID, t.creds.ConnectionID),
		MessagingProfileID: wire.FirstSet(req.MessagingProfileID, t.creds.MessagingProfileID),
		CustomerReference:  req.FriendlyName,
	}
	var res struct {
		Data struct {
			ID           string              `json:"id"`
			Status       string              `json:"status"`
			ConnectionID string              `json:"connection_id"`
			CreatedAt    string              `json:"created_at"`
			PhoneNumbers []telnyxOrderNumber `json:"phone_numbers"`
		} `json:"data"`
	}
	if err := t.call(ctx, http.MethodPost, "/number_orders", nil, body, &res); err != nil {
		return provider.Purchased{}, err
	}
	d := res.Data
	if d.Status == "failure" {
		return provider.Purchased{}, &provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrNumberUnavailable, Code: "order_failure",
			Message: "number order " + d.ID + " failed"}
	}
	// The order as Telnyx answered: id, status (pending, success), connection_id, date_created.
	details := map[string]any{
		"id":            d.ID,
		"status":        d.Status,
		"connection_id": wire.FirstSet(d.ConnectionID, body.ConnectionID),
		"date_created":  d.CreatedAt,
		"order_id":      d.ID,
		"order_status":  d.Status,
	}
	if body.MessagingProfileID != "" {
		details["messaging_profile_id"] = body.MessagingProfileID
	}
	for _, n := range d.PhoneNumbers {
		if n.PhoneNumber == req.PhoneNumber {
			details["order_phone_number_id"] = n.ID
			details["number_status"] = n.Status
		}
	}
	return provider.Purchased{ProviderID: req.PhoneNumber, Details: details}, nil
}

type telnyxNumber struct {
	ID                 string `json:"id"`
	PhoneNumber        string `json:"phone_number"`
	Status             string `json:"status"`
	ConnectionID       string `json:"connection_id"`
	MessagingProfileID string `json:"messaging_profile_id"`
	CountryISOAlpha2   string `json:"country_iso_alpha2"`
	CustomerReference  string `json:"customer_reference"`
}

type telnyxNumberPage struct {
	Data []telnyxNumber `json:"data"`
	Meta struct {
		PageNumber int `json:"page_number"`
		TotalPages int `json:"total_pages"`
	} `json:"meta"`
}

// lookup finds a phone_numbers record by E.164 number or id.
func (t *Client) lookup(ctx context.Context, numberOrID string) (telnyxNumber, error) {
	numberOrID = strings.TrimSpace(numberOrID)
	if numberOrID == "" {
		return telnyxNumber{}, provider.BadRequest(provider.NameTelnyx, "number or id is empty")
	}
	if !strings.HasPrefix(numberOrID, "+") {
		var res struct {
			Data telnyxNumber `json:"data"`
		}
		err := t.call(ctx, http.MethodGet, "/phone_numbers/"+url.PathEscape(numberOrID), nil, nil, &res)
		return res.Data, err
	}
	if !provider.IsE164(numberOrID) {
		return telnyxNumber{}, provider.BadRequest(provider.NameTelnyx, "phone number %q: want E.164", numberOrID)
	}
	// spec3.yml, GET /phone_numbers, filter[phone_number]: "Requires at
	// least three digits. Non-numerical characters will result in no values
	// being returned." So the digits go, without the '+'; the filter may
	// match more than the number (its description promises no exact
	// match), hence the comparison below and the largest page.
	v := url.Values{}
	v.Set("filter[phone_number]", wire.DigitsOnly(numberOrID))
	v.Set("page[size]", "250")
	var res telnyxNumberPage
	if err := t.call(ctx, http.MethodGet, "/phone_numbers", v, nil, &res); err != nil {
		return telnyxNumber{}, err
	}
	for _, n := range res.Data {
		if n.PhoneNumber == numberOrID {
			return n, nil
		}
	}
	return telnyxNumber{}, &provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrNotFound, Message: "no phone number " + numberOrID}
}

// Release deletes the phone number (DELETE, retried).
func (t *Client) Release(ctx context.Context, numberOrID string) error {
	id, err := t.resolveID(ctx, numberOrID)
	if err != nil {
		return err
	}
	return t.call(ctx, http.MethodDelete, "/phone_numbers/"+url.PathEscape(id), nil, nil, nil)
}

// resolveID returns the phone_numbers id of an E.164 number (looked up) or
// the id itself.
func (t *Client) resolveID(ctx context.Context, numberOrID string) (string, error) {
	numberOrID = strings.TrimSpace(numberOrID)
	if numberOrID != "" && !strings.HasPrefix(numberOrID, "+") {
		return numberOrID, nil
	}
	n, err := t.lookup(ctx, numberOrID)
	return n.ID, err
}

// ConfigureWebhooks assigns the connection (PATCH phone_numbers/{id}) and the
// messaging profile (PATCH phone_numbers/{id}/messaging).
func (t *Client) ConfigureWebhooks(ctx context.Context, numberOrID string, w provider.Webhooks) error {
	conn := wire.FirstSet(w.ConnectionID, t.creds.ConnectionID)
	profile := wire.FirstSet(w.MessagingProfileID, t.creds.MessagingProfileID)
	if w.ClearSMS {
		// "" unassigns the number from its messaging profile (Telnyx API).
		rawID, err := t.resolveID(ctx, numberOrID)
		if err != nil {
			return err
		}
		if err := t.call(ctx, http.MethodPatch, "/phone_numbers/"+url.PathEscape(rawID)+"/messaging", nil,
			map[string]string{"messaging_profile_id": ""}, nil); err != nil {
			return err
		}
		if w.ConnectionID == "" {
			return nil
		}
		profile = ""
	}
	if conn == "" && profile == "" {
		return provider.BadRequest(provider.NameTelnyx, "no connection_id or messaging_profile_id to assign (Telnyx webhooks live on them)")
	}
	rawID, err := t.resolveID(ctx, numberOrID)
	if err != nil {
		return err
	}
	id := url.PathEscape(rawID)
	if conn != "" {
		if err := t.call(ctx, http.MethodPatch, "/phone_numbers/"+id, nil,
			map[string]string{"connection_id": conn}, nil); err != nil {
			return err
		}
	}
	if profile != "" {
		if err := t.call(ctx, http.MethodPatch, "/phone_numbers/"+id+"/messaging", nil,
			map[string]string{"messaging_profile_id": profile}, nil); err != nil {
			return err
		}
	}
	return nil
}

// GetWebhooks returns the number's connection and messaging profile.
func (t *Client) GetWebhooks(ctx context.Context, numberOrID string) (provider.Webhooks, error) {
	n, err := t.lookup(ctx, numberOrID)
	if err != nil {
		return provider.Webhooks{}, err
	}
	return provider.Webhooks{ConnectionID: n.ConnectionID, MessagingProfileID: n.MessagingProfileID}, nil
}

// ListOwned pages through phone_numbers (page[number], page[size]).
func (t *Client) ListOwned(ctx context.Context) ([]provider.OwnedNumber, error) {
	var out []provider.OwnedNumber
	for page := 1; page <= telnyxMaxPages; page++ {
		v := url.Values{}
		v.Set("page[number]", strconv.Itoa(page))
		v.Set("page[size]", "250")
		var res telnyxNumberPage
		if err := t.call(ctx, http.MethodGet, "/phone_numbers", v, nil, &res); err != nil {
			return nil, err
		}
		for _, n := range res.Data {
			out = append(out, provider.OwnedNumber{
				PhoneNumber:  n.PhoneNumber,
				ProviderID:   n.ID,
				CountryCode:  n.CountryISOAlpha2,
				FriendlyName: n.CustomerReference,
				Webhooks:     provider.Webhooks{ConnectionID: n.ConnectionID, MessagingProfileID: n.MessagingProfileID},
			})
		}
		if len(res.Data) == 0 || res.Meta.TotalPages <= page {
			break
		}
	}
	return out, nil
}

// SendMessage posts to /messages (sent once).
func (t *Client) SendMessage(ctx context.Context, m provider.Message) (provider.SentMessage, error) {
	if m.To == "" || m.From == "" || (m.Body == "" && len(m.MediaURLs) == 0) {
		return provider.SentMessage{}, provider.BadRequest(provider.NameTelnyx, "message needs from, to and a body or media")
	}
	body := struct {
		From       string   `json:"from"`
		To         string   `json:"to"`
		Text       string   `json:"text,omitempty"`
		MediaURLs  []string `json:"media_urls,omitempty"`
		WebhookURL string   `json:"webhook_url,omitempty"`
	}{m.From, m.To, m.Body, m.MediaURLs, m.StatusCallback}
	var res struct {
		Data struct {
			ID string `json:"id"`
			To []struct {
				Status string `json:"status"`
			} `json:"to"`
		} `json:"data"`
	}
	if err := t.call(ctx, http.MethodPost, "/messages", nil, body, &res); err != nil {
		return provider.SentMessage{}, err
	}
	sm := provider.SentMessage{ProviderMessageID: res.Data.ID}
	if len(res.Data.To) > 0 {
		sm.Status = res.Data.To[0].Status
	}
	return sm, nil
}

// CreateCall dials with Call Control (POST /calls, sent once) and returns the
// call_control_id. Events go to Call.URL (else StatusCallback, else the
// connection's webhook); StreamURL starts a bidirectional media stream of
// both tracks as Dial's: stream_codec PCMU, stream_bidirectional_mode rtp
// (Telnyx's default, mp3, takes MP3 files back, not RTP payloads) with
// stream_bidirectional_codec PCMU; StreamParams travel as base64 JSON
// client_state.
func (t *Client) CreateCall(ctx context.Context, c provider.Call) (string, error) {
	conn := wire.FirstSet(c.ConnectionID, t.creds.ConnectionID)
	if c.To == "" || c.From == "" || conn == "" {
		return "", provider.BadRequest(provider.NameTelnyx, "call needs from, to and a connection_id")
	}
	body := struct {
		ConnectionID string `json:"connection_id"`
		To           string `json:"to"`
		From         string `json:"from"`
		WebhookURL   string `json:"webhook_url,omitempty"`
		TimeoutSecs  int    `json:"timeout_secs,omitempty"`
		ClientState  string `json:"client_state,omitempty"`
		telnyxStreamFields
	}{
		ConnectionID: conn, To: c.To, From: c.From,
		WebhookURL:  wire.FirstSet(c.URL, c.StatusCallback),
		TimeoutSecs: c.TimeoutSeconds,
		telnyxStreamFields: telnyxStreamOf(Stream{URL: c.StreamURL, Track: "both_tracks",
			BidirectionalMode: "rtp", BidirectionalCodec: "PCMU"}),
	}
	if len(c.StreamParams) > 0 {
		js, _ := json.Marshal(c.StreamParams)
		body.ClientState = base64.StdEncoding.EncodeToString(js)
	}
	return t.dialCalls(ctx, body)
}

// dialCalls posts a Call Control dial (POST /v2/calls) and returns the new
// call's call_control_id.
func (t *Client) dialCalls(ctx context.Context, body any) (string, error) {
	var res struct {
		Data struct {
			CallControlID string `json:"call_control_id"`
		} `json:"data"`
	}
	if err := t.call(ctx, http.MethodPost, "/calls", nil, body, &res); err != nil {
		return "", err
	}
	if res.Data.CallControlID == "" {
		return "", &provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrProviderDown, Message: "answer without call_control_id"}
	}
	return res.Data.CallControlID, nil
}

// Hangup posts the hangup action.
func (t *Client) Hangup(ctx context.Context, callID string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameTelnyx, "call id is empty")
	}
	return t.call(ctx, http.MethodPost, "/calls/"+url.PathEscape(callID)+"/actions/hangup", nil, struct{}{}, nil)
}

// SendDTMF posts the send_dtmf action: {"digits": …} (0-9 A-D * #, and
// w/W pauses, which sipbridge does not send). A POST, sent once.
func (t *Client) SendDTMF(ctx context.Context, callID, digits string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameTelnyx, "call id is empty")
	}
	if digits == "" || strings.Trim(digits, "0123456789ABCD*#") != "" {
		return provider.BadRequest(provider.NameTelnyx, "digits %q: want 0-9 A-D * #", digits)
	}
	return t.call(ctx, http.MethodPost, "/calls/"+url.PathEscape(callID)+"/actions/send_dtmf", nil,
		map[string]string{"digits": digits}, nil)
}

// Transfer posts the transfer action to a number or a sip: URI.
func (t *Client) Transfer(ctx context.Context, callID, to string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameTelnyx, "call id is empty")
	}
	to = strings.TrimSpace(to)
	if !provider.IsE164(to) && !strings.HasPrefix(strings.ToLower(to), "sip:") {
		return provider.BadRequest(provider.NameTelnyx, "transfer target %q: want E.164 or sip: URI", to)
	}
	return t.call(ctx, http.MethodPost, "/calls/"+url.PathEscape(callID)+"/actions/transfer", nil,
		map[string]string{"to": to}, nil)
}
