// Package vonage is the Vonage client of provider: numbers and SMS (REST
// APIs, key and secret), messages and calls (Messages and Voice APIs, an
// application's RS256 JWT), the NCCO sipbridge answers voice webhooks with,
// the signed-webhook checks (HS256 JWT, SMS signature), the parsing of
// messaging webhooks and the mapping of Vonage's errors to provider's
// sentinels.
package vonage

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Client is the Vonage client. Numbers (number/search, number/buy,
// number/cancel, number/update, account/numbers) and the SMS API
// (sms/json) live on Config.VonageRESTBaseURL and authenticate with
// api_key/api_secret; the Messages API (v1/messages) and the Voice API
// (v1/calls) live on Config.VonageAPIBaseURL and authenticate with an RS256
// JWT signed by the application's private key (Messages falls back to Basic
// api_key:api_secret without an application).
//
// Vonage numbers need their country for every change, so Release and
// ConfigureWebhooks first look the number up in account/numbers. Search
// filters on area code and digits (pattern); Locality and Region are ignored.
// Voice routing: a sip: or tel: target in VoiceURL is set as
// voiceCallbackType/voiceCallbackValue; an http(s) VoiceURL is served by the
// application (its answer_url), which is assigned with app_id.
type Client struct {
	creds provider.VonageCreds
	core  *wire.Core
	rest  string
	api   string
	key   *rsa.PrivateKey
	clock provider.Clock
}

var (
	_ provider.Provider   = (*Client)(nil)
	_ provider.DTMFSender = (*Client)(nil)
)

const vonageMaxPages = 200

// New returns a Vonage client. It needs the API key and secret, or the
// application id and private key, or both; a private key that does not parse
// is an ErrInvalidCredentials.
func New(creds provider.VonageCreds, cfg provider.Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if !creds.MessagingReady() && !creds.VoiceReady() {
		return nil, &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials,
			Message: "API key and secret, or application id and private key, are required"}
	}
	rest, err := provider.ParseBaseURL(cfg.VonageRESTBaseURL)
	if err != nil {
		return nil, provider.BadRequest(provider.NameVonage, "%v", err)
	}
	api, err := provider.ParseBaseURL(cfg.VonageAPIBaseURL)
	if err != nil {
		return nil, provider.BadRequest(provider.NameVonage, "%v", err)
	}
	v := &Client{creds: creds, core: wire.NewCore(provider.NameVonage, cfg), rest: rest.String(), api: api.String(), clock: cfg.Clock}
	if set(creds.PrivateKey) {
		key, err := parseRSAPrivateKey(creds.PrivateKey)
		if err != nil {
			return nil, &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials, Message: "private key: " + err.Error()}
		}
		v.key = key
	}
	return v, nil
}

// Name is NameVonage.
func (v *Client) Name() string { return provider.NameVonage }

// numbersCall calls a Numbers API endpoint. The credentials go in the query
// string of every request, as the Numbers API spec's security schemes put
// them (Nexmo/api-specification definitions/numbers.yml 1.0.20, commit
// ad042003: apiKey and apiSecret "in: query") and as the Node SDK sends
// them (QUERY_KEY_SECRET); the other params go in the query of a GET and in
// the form body of a POST. An "error-code" other than "200" is a failure
// even under HTTP 200.
func (v *Client) numbersCall(ctx context.Context, op, method, path string, params url.Values, out any) error {
	if !v.creds.MessagingReady() {
		return &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrInvalidCredentials, Message: "the Numbers API needs the API key and secret"}
	}
	query := url.Values{}
	query.Set("api_key", v.creds.APIKey)
	query.Set("api_secret", v.creds.APISecret)
	form := url.Values{}
	for k, vs := range params {
		if method == http.MethodGet {
			query[k] = vs
		} else {
			form[k] = vs
		}
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	u := v.rest + path + "?" + query.Encode()
	var body []byte
	if method != http.MethodGet {
		body = []byte(form.Encode())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := v.core.Do(ctx, method, u, h, body)
	if err != nil {
		return err
	}
	if e := vonageNumbersError(op, resp.Status, resp.Body); e != nil {
		return e
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrProviderDown, Status: resp.Status, Message: "unexpected answer: " + err.Error()}
		}
	}
	return nil
}

type vonageAvailable struct {
	Country  string   `json:"country"`
	Msisdn   string   `json:"msisdn"`
	Type     string   `json:"type"`
	Cost     string   `json:"cost"`
	Features []string `json:"features"`
}

// vonageOwned is numbers.yml's "ownednumber" (account/numbers): no
// voiceStatusCallback and no app_id there; an application shows as
// voiceCallbackType / messagesCallbackType "app" with its id as the value.
type vonageOwned struct {
	Country               string   `json:"country"`
	Msisdn                string   `json:"msisdn"`
	Type                  string   `json:"type"`
	Features              []string `json:"features"`
	MoHTTPURL             string   `json:"moHttpUrl"`
	VoiceCallbackType     string   `json:"voiceCallbackType"`
	VoiceCallbackValue    string   `json:"voiceCallbackValue"`
	MessagesCallbackType  string   `json:"messagesCallbackType"`
	MessagesCallbackValue string   `json:"messagesCallbackValue"`
}

// nanp lists the countries dialled with +1, where an area code is the three
// digits after the 1.
var nanp = map[string]bool{"US": true, "CA": true, "PR": true, "VI": true, "GU": true, "AS": true, "MP": true}

// SearchNumbers calls number/search: the area code becomes a "starts with"
// pattern (after the 1 in NANP countries), Contains a "contains" pattern.
func (v *Client) SearchNumbers(ctx context.Context, q provider.SearchQuery) ([]provider.AvailableNumber, error) {
	country := strings.ToUpper(strings.TrimSpace(q.CountryCode))
	if len(country) != 2 {
		return nil, provider.BadRequest(provider.NameVonage, "country code %q: want ISO 3166-1 alpha-2", q.CountryCode)
	}
	p := url.Values{}
	p.Set("country", country)
	contains := q.Contains
	switch {
	case q.AreaCode != "" && nanp[country]:
		p.Set("pattern", "1"+q.AreaCode)
		p.Set("search_pattern", "0")
	case q.AreaCode != "":
		p.Set("pattern", q.AreaCode)
		p.Set("search_pattern", "1")
	case contains != "":
		p.Set("pattern", contains)
		p.Set("search_pattern", "1")
		contains = ""
	}
	size := 20
	if q.Limit > 0 {
		size = min(q.Limit, 100)
	}
	p.Set("size", strconv.Itoa(size))
	var res struct {
		Count   int               `json:"count"`
		Numbers []vonageAvailable `json:"numbers"`
	}
	if err := v.numbersCall(ctx, "search", http.MethodGet, "/number/search", p, &res); err != nil {
		return nil, err
	}
	out := make([]provider.AvailableNumber, 0, len(res.Numbers))
	for _, n := range res.Numbers {
		if contains != "" && !strings.Contains(n.Msisdn, contains) {
			continue
		}
		out = append(out, provider.AvailableNumber{
			PhoneNumber:  "+" + wire.DigitsOnly(n.Msisdn),
			CountryCode:  wire.FirstSet(n.Country, country),
			Capabilities: vonageCaps(n.Features),
			MonthlyCost:  n.Cost,
		})
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// Purchase calls number/buy (POST, sent once), then number/update with the
// webhooks. If the update fails the number is still bought: the result has
// its ProviderID and the error says what failed.
func (v *Client) Purchase(ctx context.Context, req provider.PurchaseRequest) (provider.Purchased, error) {
	if !provider.IsE164(req.PhoneNumber) {
		return provider.Purchased{}, provider.BadRequest(provider.NameVonage, "phone number %q: want E.164", req.PhoneNumber)
	}
	country := strings.ToUpper(strings.TrimSpace(req.CountryCode))
	if len(country) != 2 {
		return provider.Purchased{}, provider.BadRequest(provider.NameVonage, "country code %q: Vonage needs the number's ISO country", req.CountryCode)
	}
	msisdn := wire.DigitsOnly(req.PhoneNumber)
	p := url.Values{}
	p.Set("country", country)
	p.Set("msisdn", msisdn)
	var bought struct {
		Label string `json:"error-code-label"`
	}
	if err := v.numbersCall(ctx, "buy", http.MethodPost, "/number/buy", p, &bought); err != nil {
		return provider.Purchased{}, err
	}
	// Vonage answers the buy with a status only ("success"): that, and the number as it names it.
	got := provider.Purchased{ProviderID: req.PhoneNumber, Details: map[string]any{"country": country, "msisdn": msisdn, "status": bought.Label}}
	w := provider.Webhooks{VoiceURL: req.VoiceURL, SMSURL: req.SMSURL, StatusCallbackURL: req.StatusCallbackURL}
	if w != (provider.Webhooks{}) {
		if err := v.update(ctx, country, msisdn, w); err != nil {
			got.Details["webhooks_configured"] = false
			return got, err
		}
		got.Details["webhooks_configured"] = true
	}
	return got, nil
}

// owned finds one of the account's numbers (for its country).
func (v *Client) owned(ctx context.Context, numberOrID string) (vonageOwned, error) {
	msisdn := wire.DigitsOnly(strings.TrimSpace(numberOrID))
	if !provider.IsE164("+" + msisdn) {
		return vonageOwned{}, provider.BadRequest(provider.NameVonage, "phone number %q: want E.164", numberOrID)
	}
	p := url.Values{}
	p.Set("pattern", msisdn)
	p.Set("search_pattern", "0")
	p.Set("size", "100")
	var res struct {
		Count   int           `json:"count"`
		Numbers []vonageOwned `json:"numbers"`
	}
	if err := v.numbersCall(ctx, "list", http.MethodGet, "/account/numbers", p, &res); err != nil {
		return vonageOwned{}, err
	}
	for _, n := range res.Numbers {
		if n.Msisdn == msisdn {
			return n, nil
		}
	}
	return vonageOwned{}, &provider.Error{Provider: provider.NameVonage, Kind: provider.ErrNotFound, Message: "no owned number " + numberOrID}
}

// Release calls number/cancel.
func (v *Client) Release(ctx context.Context, numberOrID string) error {
	n, err := v.owned(ctx, numberOrID)
	if err != nil {
		return err
	}
	p := url.Values{}
	p.Set("country", n.Country)
	p.Set("msisdn", n.Msisdn)
	return v.numbersCall(ctx, "cancel", http.MethodPost, "/number/cancel", p, nil)
}

// ConfigureWebhooks calls number/update.
func (v *Client) ConfigureWebhooks(ctx context.Context, numberOrID string, w provider.Webhooks) error {
	n, err := v.owned(ctx, numberOrID)
	if err != nil {
		return err
	}
	return v.update(ctx, n.Country, n.Msisdn, w)
}

// update sends number/update (numbers.yml "number-details-update"):
// moHttpUrl for SMS, voiceCallbackType and voiceCallbackValue for a sip:/tel:
// voice target, app_id for an application, voiceStatusCallback (write-only:
// account/numbers does not return it).
func (v *Client) update(ctx context.Context, country, msisdn string, w provider.Webhooks) error {
	p := url.Values{}
	p.Set("country", country)
	p.Set("msisdn", msisdn)
	switch {
	case w.ClearSMS:
		p.Set("moHttpUrl", "") // an empty value removes the webhook (Numbers API)
	case w.SMSURL != "":
		p.Set("moHttpUrl", w.SMSURL)
	}
	voice := strings.TrimSpace(w.VoiceURL)
	lower := strings.ToLower(voice)
	app := w.ApplicationID
	switch {
	case voice == "":
	case strings.HasPrefix(lower, "sip:"):
		p.Set("voiceCallbackType", "sip")
		p.Set("voiceCallbackValue", voice)
	case strings.HasPrefix(lower, "tel:") || provider.IsE164(voice):
		num := voice
		if strings.HasPrefix(lower, "tel:") {
			num = voice[len("tel:"):]
		}
		if !provider.IsE164("+" + wire.DigitsOnly(num)) {
			return provider.BadRequest(provider.NameVonage, "voice target %q: want an E.164 number", voice)
		}
		p.Set("voiceCallbackType", "tel")
		p.Set("voiceCallbackValue", wire.DigitsOnly(num))
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		app = wire.FirstSet(app, v.creds.ApplicationID)
		if app == "" {
			return provider.BadRequest(provider.NameVonage, "an http voice URL is served by a Vonage application (answer_url): no application id")
		}
	default:
		return provider.BadRequest(provider.NameVonage, "voice target %q: want sip:, tel:, E.164 or an http(s) URL", voice)
	}
	if app != "" {
		p.Set("app_id", app)
	}
	if w.StatusCallbackURL != "" {
		p.Set("voiceStatusCallback", w.StatusCallbackURL)
	}
	return v.numbersCall(ctx, "update", http.MethodPost, "/number/update", p, nil)
}

// GetWebhooks reads the number's routing from account/numbers.
func (v *Client) GetWebhooks(ctx context.Context, numberOrID string) (provider.Webhooks, error) {
	n, err := v.owned(ctx, numberOrID)
	if err != nil {
		return provider.Webhooks{}, err
	}
	return vonageWebhooks(n), nil
}

// ListOwned pages through account/numbers (index, size).
func (v *Client) ListOwned(ctx context.Context) ([]provider.OwnedNumber, error) {
	var out []provider.OwnedNumber
	for index := 1; index <= vonageMaxPages; index++ {
		p := url.Values{}
		p.Set("index", strconv.Itoa(index))
		p.Set("size", "100")
		var res struct {
			Count   int           `json:"count"`
			Numbers []vonageOwned `json:"numbers"`
		}
		if err := v.numbersCall(ctx, "list", http.MethodGet, "/account/numbers", p, &res); err != nil {
			return nil, err
		}
		for _, n := range res.Numbers {
			out = append(out, provider.OwnedNumber{
				PhoneNumber:  "+" + n.Msisdn,
				ProviderID:   "+" + n.Msisdn,
				CountryCode:  n.Country,
				Capabilities: vonageCaps(n.Features),
				Webhooks:     vonageWebhooks(n),
			})
		}
		if len(res.Numbers) == 0 || len(out) >= res.Count {
			break
		}
	}
	return out, nil
}

// vonageWebhooks reads an owned number's routing. Vonage does not return
// the voiceStatusCallback set by number/update, so StatusCallbackURL stays
// empty; the application is the "app" voice (else messages) callback.
func vonageWebhooks(n vonageOwned) provider.Webhooks {
	w := provider.Webhooks{SMSURL: n.MoHTTPURL}
	switch n.VoiceCallbackType {
	case "sip":
		w.VoiceURL = n.VoiceCallbackValue
	case "tel":
		w.VoiceURL = "+" + wire.DigitsOnly(n.VoiceCallbackValue)
	case "app":
		w.ApplicationID = n.VoiceCallbackValue
	}
	if w.ApplicationID == "" && n.MessagesCallbackType == "app" {
		w.ApplicationID = n.MessagesCallbackValue
	}
	return w
}

func vonageCaps(features []string) provider.Capabilities {
	var c provider.Capabilities
	for _, f := range features {
		switch strings.ToUpper(strings.TrimSpace(f)) {
		case "VOICE":
			c.Voice = true
		case "SMS":
			c.SMS = true
		case "MMS":
			c.MMS = true
		}
	}
	return c
}
