// Package twilio is the Twilio client of provider: numbers, messages and
// calls through twilio-go's Api v2010 (on our own transport), the TwiML
// sipbridge answers voice webhooks with, the X-Twilio-Signature checks,
// the parsing of messaging webhooks and the mapping of Twilio's errors to
// provider's sentinels.
package twilio

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Client is the Twilio client, built on twilio-go's Api v2010. Requests go
// through our own transport: it binds the caller's context, sends them to
// Config.TwilioBaseURL and applies the timeout and retry policy.
//
// SearchNumbers uses AvailablePhoneNumbers/Local (AreaCode, Contains,
// InLocality, InRegion); Twilio does not return prices there, so MonthlyCost
// stays empty.
type Client struct {
	creds provider.TwilioCreds
	core  *wire.Core
	base  *url.URL
}

var _ provider.Provider = (*Client)(nil)

// New returns a Twilio client. The credentials must be complete.
func New(creds provider.TwilioCreds, cfg provider.Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if !creds.VoiceReady() {
		return nil, &provider.Error{Provider: provider.NameTwilio, Kind: provider.ErrInvalidCredentials, Message: "account SID and auth token are required"}
	}
	base, err := provider.ParseBaseURL(cfg.TwilioBaseURL)
	if err != nil {
		return nil, provider.BadRequest(provider.NameTwilio, "%v", err)
	}
	return &Client{creds: creds, core: wire.NewCore(provider.NameTwilio, cfg), base: base}, nil
}

// Name is NameTwilio.
func (t *Client) Name() string { return provider.NameTwilio }

// api builds a twilio-go service whose requests run under ctx. It is cheap:
// a few small structs per call.
func (t *Client) api(ctx context.Context) *twapi.ApiService {
	c := twclient.NewCredentials(t.creds.AccountSID, t.creds.AuthToken)
	cl := &twclient.Client{
		Credentials: c,
		HTTPClient: &http.Client{
			Transport:     &twilioTransport{ctx: ctx, core: t.core, base: t.base},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(t.creds.AccountSID)
	// Edge and Region stay empty: the host is ours to choose (BaseURL).
	return twapi.NewApiService(&twclient.RequestHandler{Client: cl})
}

// SearchNumbers lists local numbers for sale.
func (t *Client) SearchNumbers(ctx context.Context, q provider.SearchQuery) ([]provider.AvailableNumber, error) {
	country := strings.ToUpper(strings.TrimSpace(q.CountryCode))
	if len(country) != 2 {
		return nil, provider.BadRequest(provider.NameTwilio, "country code %q: want ISO 3166-1 alpha-2", q.CountryCode)
	}
	p := &twapi.ListAvailablePhoneNumberLocalParams{}
	if q.AreaCode != "" {
		ac, err := wire.AtoiDigits(q.AreaCode)
		if err != nil {
			return nil, provider.BadRequest(provider.NameTwilio, "area code %q: digits only", q.AreaCode)
		}
		p.SetAreaCode(ac)
	}
	if q.Contains != "" {
		p.SetContains(q.Contains)
	}
	if q.Locality != "" {
		p.SetInLocality(q.Locality)
	}
	if q.Region != "" {
		p.SetInRegion(q.Region)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	p.SetPageSize(limit)
	page, err := t.api(ctx).PageAvailablePhoneNumberLocal(country, p, "", "")
	if err != nil {
		return nil, twilioErr(err)
	}
	out := make([]provider.AvailableNumber, 0, len(page.AvailablePhoneNumbers))
	for _, n := range page.AvailablePhoneNumbers {
		a := provider.AvailableNumber{
			PhoneNumber: wire.Deref(n.PhoneNumber),
			Locality:    wire.Deref(n.Locality),
			Region:      wire.Deref(n.Region),
			CountryCode: wire.Deref(n.IsoCountry),
		}
		if a.CountryCode == "" {
			a.CountryCode = country
		}
		if c := n.Capabilities; c != nil {
			a.Capabilities = provider.Capabilities{Voice: c.Voice, SMS: c.Sms, MMS: c.Mms}
		}
		out = append(out, a)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Purchase buys the number with its VoiceUrl, SmsUrl and StatusCallback set
// in the same request (POST, sent once).
func (t *Client) Purchase(ctx context.Context, req provider.PurchaseRequest) (provider.Purchased, error) {
	if !provider.IsE164(req.PhoneNumber) {
		return provider.Purchased{}, provider.BadRequest(provider.NameTwilio, "phone number %q: want E.164", req.PhoneNumber)
	}
	p := &twapi.CreateIncomingPhoneNumberParams{}
	p.SetPhoneNumber(req.PhoneNumber)
	if req.FriendlyName != "" {
		p.SetFriendlyName(req.FriendlyName)
	}
	if req.VoiceURL != "" {
		p.SetVoiceUrl(req.VoiceURL)
		p.SetVoiceMethod(http.MethodPost)
	}
	if req.SMSURL != "" {
		p.SetSmsUrl(req.SMSURL)
		p.SetSmsMethod(http.MethodPost)
	}
	if req.StatusCallbackURL != "" {
		p.SetStatusCallback(req.StatusCallbackURL)
		p.SetStatusCallbackMethod(http.MethodPost)
	}
	n, err := t.api(ctx).CreateIncomingPhoneNumber(p)
	if err != nil {
		return provider.Purchased{}, twilioErr(err)
	}
	// The IncomingPhoneNumber as Twilio answered: sid, friendly_name,
	// voice_url, sms_url, capabilities, date_created (RFC 1123, as Twilio writes it).
	details := map[string]any{"phone_number": wire.Deref(n.PhoneNumber), "sid": wire.Deref(n.Sid), "friendly_name": wire.Deref(n.FriendlyName),
		"voice_url": wire.Deref(n.VoiceUrl), "sms_url": wire.Deref(n.SmsUrl), "date_created": wire.Deref(n.DateCreated),
		"capabilities": map[string]bool{"voice": false, "sms": false, "mms": false, "fax": false}}
	if c := n.Capabilities; c != nil {
		details["capabilities"] = map[string]bool{"voice": c.Voice, "sms": c.Sms, "mms": c.Mms, "fax": c.Fax}
	}
	if n.Status != nil {
		details["status"] = *n.Status
	}
	return provider.Purchased{ProviderID: wire.Deref(n.Sid), Details: details}, nil
}

// Release deletes the IncomingPhoneNumber.
func (t *Client) Release(ctx context.Context, numberOrID string) error {
	api := t.api(ctx)
	sid, err := t.resolveSID(api, numberOrID)
	if err != nil {
		return err
	}
	if err := api.DeleteIncomingPhoneNumber(sid, nil); err != nil {
		return twilioErr(err)
	}
	return nil
}

// ConfigureWebhooks updates VoiceUrl, SmsUrl and StatusCallback (POST to
// the number: sent once).
func (t *Client) ConfigureWebhooks(ctx context.Context, numberOrID string, w provider.Webhooks) error {
	api := t.api(ctx)
	sid, err := t.resolveSID(api, numberOrID)
	if err != nil {
		return err
	}
	p := &twapi.UpdateIncomingPhoneNumberParams{}
	if w.VoiceURL != "" {
		p.SetVoiceUrl(w.VoiceURL)
		p.SetVoiceMethod(methodOr(w.VoiceMethod))
	}
	switch {
	case w.ClearSMS:
		p.SetSmsUrl("")
	case w.SMSURL != "":
		p.SetSmsUrl(w.SMSURL)
		p.SetSmsMethod(methodOr(w.SMSMethod))
	}
	if w.StatusCallbackURL != "" {
		p.SetStatusCallback(w.StatusCallbackURL)
		p.SetStatusCallbackMethod(http.MethodPost)
	}
	if _, err := api.UpdateIncomingPhoneNumber(sid, p); err != nil {
		return twilioErr(err)
	}
	return nil
}

// GetWebhooks reads the number's URLs.
func (t *Client) GetWebhooks(ctx context.Context, numberOrID string) (provider.Webhooks, error) {
	api := t.api(ctx)
	sid, err := t.resolveSID(api, numberOrID)
	if err != nil {
		return provider.Webhooks{}, err
	}
	n, err := api.FetchIncomingPhoneNumber(sid, nil)
	if err != nil {
		return provider.Webhooks{}, twilioErr(err)
	}
	return twilioWebhooks(n), nil
}

// ListOwned lists every IncomingPhoneNumber, following next_page_uri.
func (t *Client) ListOwned(ctx context.Context) ([]provider.OwnedNumber, error) {
	p := &twapi.ListIncomingPhoneNumberParams{}
	p.SetPageSize(1000)
	ns, err := t.api(ctx).ListIncomingPhoneNumber(p)
	if err != nil {
		return nil, twilioErr(err)
	}
	out := make([]provider.OwnedNumber, 0, len(ns))
	for i := range ns {
		out = append(out, twilioOwned(&ns[i]))
	}
	return out, nil
}

// SendMessage creates a Message (POST, sent once).
func (t *Client) SendMessage(ctx context.Context, m provider.Message) (provider.SentMessage, error) {
	if m.To == "" || m.From == "" || (m.Body == "" && len(m.MediaURLs) == 0) {
		return provider.SentMessage{}, provider.BadRequest(provider.NameTwilio, "message needs from, to and a body or media")
	}
	p := &twapi.CreateMessageParams{}
	p.SetTo(m.To)
	p.SetFrom(m.From)
	if m.Body != "" {
		p.SetBody(m.Body)
	}
	if len(m.MediaURLs) > 0 {
		p.SetMediaUrl(m.MediaURLs)
	}
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}
	msg, err := t.api(ctx).CreateMessage(p)
	if err != nil {
		return provider.SentMessage{}, twilioErr(err)
	}
	return provider.SentMessage{ProviderMessageID: wire.Deref(msg.Sid), Status: wire.Deref(msg.Status)}, nil
}

// CreateCall creates a Call with Url, or with TwiML that connects the call
// to StreamURL (<Connect><Stream>); with MachineDetection, asynchronous
// answering machine detection whose result Twilio posts to AMDCallback.
func (t *Client) CreateCall(ctx context.Context, c provider.Call) (string, error) {
	if c.To == "" || c.From == "" {
		return "", provider.BadRequest(provider.NameTwilio, "call needs from and to")
	}
	p := &twapi.CreateCallParams{}
	p.SetTo(c.To)
	p.SetFrom(c.From)
	switch {
	case c.URL != "":
		p.SetUrl(c.URL)
	case c.StreamURL != "":
		p.SetTwiml(twimlStream(c.StreamURL, c.StreamParams))
	default:
		return "", provider.BadRequest(provider.NameTwilio, "call needs a URL or a stream URL")
	}
	if c.StatusCallback != "" {
		p.SetStatusCallback(c.StatusCallback)
		p.SetStatusCallbackMethod(http.MethodPost)
		p.SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	}
	if c.TimeoutSeconds > 0 {
		p.SetTimeout(c.TimeoutSeconds)
	}
	if c.MachineDetection != "" {
		if c.AMDCallback == "" {
			return "", provider.BadRequest(provider.NameTwilio, "machine detection needs a callback URL")
		}
		p.SetMachineDetection(c.MachineDetection)
		p.SetAsyncAmd("true")
		p.SetAsyncAmdStatusCallback(c.AMDCallback)
		p.SetAsyncAmdStatusCallbackMethod(http.MethodPost)
	}
	call, err := t.api(ctx).CreateCall(p)
	if err != nil {
		return "", twilioErr(err)
	}
	return wire.Deref(call.Sid), nil
}

// Hangup sets the call's Status to completed.
func (t *Client) Hangup(ctx context.Context, callID string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameTwilio, "call id is empty")
	}
	p := &twapi.UpdateCallParams{}
	p.SetStatus("completed")
	if _, err := t.api(ctx).UpdateCall(callID, p); err != nil {
		return twilioErr(err)
	}
	return nil
}

// Transfer replaces the call's TwiML with a <Dial> to the target: a
// <Number> for E.164, a <Sip> for a sip: URI.
func (t *Client) Transfer(ctx context.Context, callID, to string) error {
	if callID == "" {
		return provider.BadRequest(provider.NameTwilio, "call id is empty")
	}
	twiml, err := twimlDial(to)
	if err != nil {
		return err
	}
	p := &twapi.UpdateCallParams{}
	p.SetTwiml(twiml)
	if _, err := t.api(ctx).UpdateCall(callID, p); err != nil {
		return twilioErr(err)
	}
	return nil
}

// resolveSID turns an E.164 number into its IncomingPhoneNumber SID; a SID
// (PN...) is returned as is.
func (t *Client) resolveSID(api *twapi.ApiService, numberOrID string) (string, error) {
	numberOrID = strings.TrimSpace(numberOrID)
	if strings.HasPrefix(numberOrID, "PN") {
		return numberOrID, nil
	}
	if !provider.IsE164(numberOrID) {
		return "", provider.BadRequest(provider.NameTwilio, "%q is neither a PN SID nor an E.164 number", numberOrID)
	}
	p := &twapi.ListIncomingPhoneNumberParams{}
	p.SetPhoneNumber(numberOrID)
	p.SetPageSize(20)
	page, err := api.PageIncomingPhoneNumber(p, "", "")
	if err != nil {
		return "", twilioErr(err)
	}
	for _, n := range page.IncomingPhoneNumbers {
		if wire.Deref(n.PhoneNumber) == numberOrID && n.Sid != nil {
			return *n.Sid, nil
		}
	}
	return "", &provider.Error{Provider: provider.NameTwilio, Kind: provider.ErrNotFound, Message: "no incoming phone number " + numberOrID}
}

func twilioWebhooks(n *twapi.ApiV2010IncomingPhoneNumber) provider.Webhooks {
	return provider.Webhooks{
		VoiceURL:          wire.Deref(n.VoiceUrl),
		VoiceMethod:       wire.Deref(n.VoiceMethod),
		SMSURL:            wire.Deref(n.SmsUrl),
		SMSMethod:         wire.Deref(n.SmsMethod),
		StatusCallbackURL: wire.Deref(n.StatusCallback),
	}
}

func twilioOwned(n *twapi.ApiV2010IncomingPhoneNumber) provider.OwnedNumber {
	o := provider.OwnedNumber{
		PhoneNumber:  wire.Deref(n.PhoneNumber),
		ProviderID:   wire.Deref(n.Sid),
		FriendlyName: wire.Deref(n.FriendlyName),
		Webhooks:     twilioWebhooks(n),
	}
	if c := n.Capabilities; c != nil {
		o.Capabilities = provider.Capabilities{Voice: c.Voice, SMS: c.Sms, MMS: c.Mms}
	}
	return o
}

// twilioErr converts what twilio-go returns into our errors.
func twilioErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // our transport's error; the URL holds nothing secret but is noise
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	var re *twclient.TwilioRestError
	if errors.As(err, &re) {
		return classifyTwilio(re.Status, re.Code, re.Message)
	}
	var v1 *twclient.RestErrorV1
	if errors.As(err, &v1) {
		return classifyTwilio(v1.HttpStatusCode, v1.Code, v1.Message)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// A success answer twilio-go could not decode.
	return &provider.Error{Provider: provider.NameTwilio, Kind: provider.ErrProviderDown, Message: "unexpected answer: " + err.Error()}
}

// twimlStream connects the call to a websocket.
func twimlStream(streamURL string, params map[string]string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="`)
	b.WriteString(html.EscapeString(streamURL))
	b.WriteString(`">`)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(`<Parameter name="`)
		b.WriteString(html.EscapeString(k))
		b.WriteString(`" value="`)
		b.WriteString(html.EscapeString(params[k]))
		b.WriteString(`"/>`)
	}
	b.WriteString(`</Stream></Connect></Response>`)
	return b.String()
}

// twimlDial dials a number or a SIP URI.
func twimlDial(to string) (string, error) {
	to = strings.TrimSpace(to)
	var noun string
	switch {
	case strings.HasPrefix(strings.ToLower(to), "sip:"):
		noun = "<Sip>" + html.EscapeString(to) + "</Sip>"
	case provider.IsE164(to):
		noun = "<Number>" + to + "</Number>"
	default:
		return "", provider.BadRequest(provider.NameTwilio, "transfer target %q: want E.164 or sip: URI", to)
	}
	return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>` + noun + `</Dial></Response>`, nil
}

func methodOr(m string) string {
	if m == "" {
		return http.MethodPost
	}
	return strings.ToUpper(m)
}

// TwiMLStream is the TwiML that connects a call to a media websocket:
// <Connect><Stream url="…"> with one <Parameter> per param, sorted by
// name. Twilio forbids a query in the stream URL: parameters come back in
// the stream's start.customParameters.
func TwiMLStream(streamURL string, params map[string]string) string {
	return twimlStream(streamURL, params)
}

// TwiMLReject refuses a call before it is answered.
const TwiMLReject = `<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="rejected"/></Response>`
