package provider

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strings"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Twilio is the Twilio client, built on twilio-go's Api v2010. Requests go
// through our own transport: it binds the caller's context, sends them to
// Config.TwilioBaseURL and applies the timeout and retry policy.
//
// SearchNumbers uses AvailablePhoneNumbers/Local (AreaCode, Contains,
// InLocality, InRegion); Twilio does not return prices there, so MonthlyCost
// stays empty.
type Twilio struct {
	creds TwilioCreds
	core  *httpCore
	base  *url.URL
}

var _ Provider = (*Twilio)(nil)

// NewTwilio returns a Twilio client. The credentials must be complete.
func NewTwilio(creds TwilioCreds, cfg Config) (*Twilio, error) {
	cfg = cfg.withDefaults()
	if !creds.voiceReady() {
		return nil, &Error{Provider: NameTwilio, Kind: ErrInvalidCredentials, Message: "account SID and auth token are required"}
	}
	base, err := parseBaseURL(cfg.TwilioBaseURL)
	if err != nil {
		return nil, badRequest(NameTwilio, "%v", err)
	}
	return &Twilio{creds: creds, core: newHTTPCore(NameTwilio, cfg), base: base}, nil
}

// Name is NameTwilio.
func (t *Twilio) Name() string { return NameTwilio }

// api builds a twilio-go service whose requests run under ctx. It is cheap:
// a few small structs per call.
func (t *Twilio) api(ctx context.Context) *twapi.ApiService {
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
func (t *Twilio) SearchNumbers(ctx context.Context, q SearchQuery) ([]AvailableNumber, error) {
	country := strings.ToUpper(strings.TrimSpace(q.CountryCode))
	if len(country) != 2 {
		return nil, badRequest(NameTwilio, "country code %q: want ISO 3166-1 alpha-2", q.CountryCode)
	}
	p := &twapi.ListAvailablePhoneNumberLocalParams{}
	if q.AreaCode != "" {
		ac, err := atoiDigits(q.AreaCode)
		if err != nil {
			return nil, badRequest(NameTwilio, "area code %q: digits only", q.AreaCode)
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
	out := make([]AvailableNumber, 0, len(page.AvailablePhoneNumbers))
	for _, n := range page.AvailablePhoneNumbers {
		a := AvailableNumber{
			PhoneNumber: deref(n.PhoneNumber),
			Locality:    deref(n.Locality),
			Region:      deref(n.Region),
			CountryCode: deref(n.IsoCountry),
		}
		if a.CountryCode == "" {
			a.CountryCode = country
		}
		if c := n.Capabilities; c != nil {
			a.Capabilities = Capabilities{Voice: c.Voice, SMS: c.Sms, MMS: c.Mms}
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
func (t *Twilio) Purchase(ctx context.Context, req PurchaseRequest) (Purchased, error) {
	if !isE164(req.PhoneNumber) {
		return Purchased{}, badRequest(NameTwilio, "phone number %q: want E.164", req.PhoneNumber)
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
		return Purchased{}, twilioErr(err)
	}
	// The IncomingPhoneNumber as Twilio answered: sid, friendly_name,
	// voice_url, sms_url, capabilities, date_created (RFC 1123, as Twilio writes it).
	details := map[string]any{"phone_number": deref(n.PhoneNumber), "sid": deref(n.Sid), "friendly_name": deref(n.FriendlyName),
		"voice_url": deref(n.VoiceUrl), "sms_url": deref(n.SmsUrl), "date_created": deref(n.DateCreated),
		"capabilities": map[string]bool{"voice": false, "sms": false, "mms": false, "fax": false}}
	if c := n.Capabilities; c != nil {
		details["capabilities"] = map[string]bool{"voice": c.Voice, "sms": c.Sms, "mms": c.Mms, "fax": c.Fax}
	}
	if n.Status != nil {
		details["status"] = *n.Status
	}
	return Purchased{ProviderID: deref(n.Sid), Details: details}, nil
}

// Release deletes the IncomingPhoneNumber.
func (t *Twilio) Release(ctx context.Context, numberOrID string) error {
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
func (t *Twilio) ConfigureWebhooks(ctx context.Context, numberOrID string, w Webhooks) error {
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
func (t *Twilio) GetWebhooks(ctx context.Context, numberOrID string) (Webhooks, error) {
	api := t.api(ctx)
	sid, err := t.resolveSID(api, numberOrID)
	if err != nil {
		return Webhooks{}, err
	}
	n, err := api.FetchIncomingPhoneNumber(sid, nil)
	if err != nil {
		return Webhooks{}, twilioErr(err)
	}
	return twilioWebhooks(n), nil
}

// ListOwned lists every IncomingPhoneNumber, following next_page_uri.
func (t *Twilio) ListOwned(ctx context.Context) ([]OwnedNumber, error) {
	p := &twapi.ListIncomingPhoneNumberParams{}
	p.SetPageSize(1000)
	ns, err := t.api(ctx).ListIncomingPhoneNumber(p)
	if err != nil {
		return nil, twilioErr(err)
	}
	out := make([]OwnedNumber, 0, len(ns))
	for i := range ns {
		out = append(out, twilioOwned(&ns[i]))
	}
	return out, nil
}

// SendMessage creates a Message (POST, sent once).
func (t *Twilio) SendMessage(ctx context.Context, m Message) (SentMessage, error) {
	if m.To == "" || m.From == "" || (m.Body == "" && len(m.MediaURLs) == 0) {
		return SentMessage{}, badRequest(NameTwilio, "message needs from, to and a body or media")
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
		return SentMessage{}, twilioErr(err)
	}
	return SentMessage{ProviderMessageID: deref(msg.Sid), Status: deref(msg.Status)}, nil
}

// CreateCall creates a Call with Url, or with TwiML that connects the call
// to StreamURL (<Connect><Stream>).
func (t *Twilio) CreateCall(ctx context.Context, c Call) (string, error) {
	if c.To == "" || c.From == "" {
		return "", badRequest(NameTwilio, "call needs from and to")
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
		return "", badRequest(NameTwilio, "call needs a URL or a stream URL")
	}
	if c.StatusCallback != "" {
		p.SetStatusCallback(c.StatusCallback)
		p.SetStatusCallbackMethod(http.MethodPost)
		p.SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	}
	if c.TimeoutSeconds > 0 {
		p.SetTimeout(c.TimeoutSeconds)
	}
	call, err := t.api(ctx).CreateCall(p)
	if err != nil {
		return "", twilioErr(err)
	}
	return deref(call.Sid), nil
}

// Hangup sets the call's Status to completed.
func (t *Twilio) Hangup(ctx context.Context, callID string) error {
	if callID == "" {
		return badRequest(NameTwilio, "call id is empty")
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
func (t *Twilio) Transfer(ctx context.Context, callID, to string) error {
	if callID == "" {
		return badRequest(NameTwilio, "call id is empty")
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
func (t *Twilio) resolveSID(api *twapi.ApiService, numberOrID string) (string, error) {
	numberOrID = strings.TrimSpace(numberOrID)
	if strings.HasPrefix(numberOrID, "PN") {
		return numberOrID, nil
	}
	if !isE164(numberOrID) {
		return "", badRequest(NameTwilio, "%q is neither a PN SID nor an E.164 number", numberOrID)
	}
	p := &twapi.ListIncomingPhoneNumberParams{}
	p.SetPhoneNumber(numberOrID)
	p.SetPageSize(20)
	page, err := api.PageIncomingPhoneNumber(p, "", "")
	if err != nil {
		return "", twilioErr(err)
	}
	for _, n := range page.IncomingPhoneNumbers {
		if deref(n.PhoneNumber) == numberOrID && n.Sid != nil {
			return *n.Sid, nil
		}
	}
	return "", &Error{Provider: NameTwilio, Kind: ErrNotFound, Message: "no incoming phone number " + numberOrID}
}

func twilioWebhooks(n *twapi.ApiV2010IncomingPhoneNumber) Webhooks {
	return Webhooks{
		VoiceURL:          deref(n.VoiceUrl),
		VoiceMethod:       deref(n.VoiceMethod),
		SMSURL:            deref(n.SmsUrl),
		SMSMethod:         deref(n.SmsMethod),
		StatusCallbackURL: deref(n.StatusCallback),
	}
}

func twilioOwned(n *twapi.ApiV2010IncomingPhoneNumber) OwnedNumber {
	o := OwnedNumber{
		PhoneNumber:  deref(n.PhoneNumber),
		ProviderID:   deref(n.Sid),
		FriendlyName: deref(n.FriendlyName),
		Webhooks:     twilioWebhooks(n),
	}
	if c := n.Capabilities; c != nil {
		o.Capabilities = Capabilities{Voice: c.Voice, SMS: c.Sms, MMS: c.Mms}
	}
	return o
}

// twilioErr converts what twilio-go returns into our errors.
func twilioErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // our transport's error; the URL holds nothing secret but is noise
	}
	var pe *Error
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
	return &Error{Provider: NameTwilio, Kind: ErrProviderDown, Message: "unexpected answer: " + err.Error()}
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
	case isE164(to):
		noun = "<Number>" + to + "</Number>"
	default:
		return "", badRequest(NameTwilio, "transfer target %q: want E.164 or sip: URI", to)
	}
	return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>` + noun + `</Dial></Response>`, nil
}

func methodOr(m string) string {
	if m == "" {
		return http.MethodPost
	}
	return strings.ToUpper(m)
}
