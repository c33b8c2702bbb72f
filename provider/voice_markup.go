package provider

import (
	"bytes"
	"encoding/json"
)

// Call instructions sipbridge answers the providers' voice webhooks with.

// TwiMLStream is the TwiML that connects a call to a media websocket:
// <Connect><Stream url="…"> with one <Parameter> per param, sorted by
// name. Twilio forbids a query in the stream URL: parameters come back in
// the stream's start.customParameters.
func TwiMLStream(streamURL string, params map[string]string) string {
	return twimlStream(streamURL, params)
}

// TwiMLReject refuses a call before it is answered.
const TwiMLReject = `<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="rejected"/></Response>`

// VonageWebsocketNCCO is the NCCO that connects a call to a media websocket
// as 16 kHz L16; the headers arrive in the websocket's first text message.
func VonageWebsocketNCCO(uri string, headers map[string]string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the URI's & stays readable
	_ = enc.Encode([]vonageNCCOAction{{Action: "connect", Endpoint: []vonageEndpoint{{
		Type: "websocket", URI: uri, ContentType: "audio/l16;rate=16000", Headers: headers}}}})
	return bytes.TrimSpace(b.Bytes())
}
