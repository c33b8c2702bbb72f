package telnyx

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// Stream is a bidirectional media stream requested with a Call Control
// answer or dial: Telnyx opens a websocket to URL, sends the track (μ-law
// when Codec is PCMU) and plays the RTP payloads sent back to it.
type Stream struct {
	// URL is the wss:// address Telnyx connects to (a query is allowed).
	URL string
	// Track is inbound_track (default), outbound_track or both_tracks.
	Track string
	// Codec is the stream_codec of the audio Telnyx sends (PCMU, PCMA,
	// G722, OPUS, AMR-WB, L16, default). Empty asks for PCMU: Telnyx's own
	// default ("default") streams in the call's codec, whatever it is.
	// Telnyx transcodes between PCMU and PCMA only; a call in another codec
	// is streamed in it, as the start frame's media_format.encoding says.
	Codec string
	// BidirectionalMode is "rtp" for raw RTP payloads back (Telnyx's
	// stream_bidirectional_mode).
	BidirectionalMode string
	// BidirectionalCodec is the codec of the audio sent back (PCMU, PCMA,
	// G722, OPUS, AMR-WB, L16).
	BidirectionalCodec string
}

// Dial is an outbound Call Control dial (POST /calls).
type Dial struct {
	From, To string
	// ConnectionID overrides the credentials' connection.
	ConnectionID string
	// WebhookURL receives the call's events (else the connection's).
	WebhookURL string
	// ClientState travels back in every event (base64, as Telnyx wants it).
	ClientState string
	Stream      Stream
	// TimeoutSeconds is how long to ring (0: Telnyx's default).
	TimeoutSeconds int
	// AnsweringMachineDetection asks Telnyx to detect (detect,
	// greeting_end, …); the results come as call.machine.* webhooks.
	AnsweringMachineDetection string
}

// telnyxStreamFields are the stream parameters of Call Control's dial
// (CallRequest) and answer (AnswerRequest) in Telnyx's OpenAPI spec3.yml
// (team-telnyx/openapi openapi/spec3.yml, stored version 0015e7fa, read
// 2026-12, and telnyx-go v3 generated from it): stream_url,
// stream_track (inbound_track default), stream_codec (default "default"),
// stream_bidirectional_mode (mp3 default, rtp), stream_bidirectional_codec
// (PCMU default; used with rtp only).
type telnyxStreamFields struct {
	StreamURL          string `json:"stream_url,omitempty"`
	StreamTrack        string `json:"stream_track,omitempty"`
	StreamCodec        string `json:"stream_codec,omitempty"`
	BidirectionalMode  string `json:"stream_bidirectional_mode,omitempty"`
	BidirectionalCodec string `json:"stream_bidirectional_codec,omitempty"`
}

func telnyxStreamOf(s Stream) telnyxStreamFields {
	if s.URL == "" {
		return telnyxStreamFields{}
	}
	return telnyxStreamFields{StreamURL: s.URL, StreamTrack: s.Track, StreamCodec: wire.FirstSet(s.Codec, "PCMU"),
		BidirectionalMode: s.BidirectionalMode, BidirectionalCodec: s.BidirectionalCodec}
}

// Dial places a Call Control call with a bidirectional media stream (POST
// /calls, sent once) and returns its call_control_id.
func (t *Client) Dial(ctx context.Context, d Dial) (string, error) {
	conn := wire.FirstSet(d.ConnectionID, t.creds.ConnectionID)
	if !provider.IsE164(d.To) || !provider.IsE164(d.From) || conn == "" {
		return "", provider.BadRequest(provider.NameTelnyx, "dial needs E.164 from and to and a connection_id")
	}
	body := struct {
		ConnectionID string `json:"connection_id"`
		To           string `json:"to"`
		From         string `json:"from"`
		WebhookURL   string `json:"webhook_url,omitempty"`
		ClientState  string `json:"client_state,omitempty"`
		TimeoutSecs  int    `json:"timeout_secs,omitempty"`
		AMD          string `json:"answering_machine_detection,omitempty"`
		telnyxStreamFields
	}{ConnectionID: conn, To: d.To, From: d.From, WebhookURL: d.WebhookURL, ClientState: d.ClientState,
		TimeoutSecs: d.TimeoutSeconds, AMD: d.AnsweringMachineDetection, telnyxStreamFields: telnyxStreamOf(d.Stream)}
	return t.dialCalls(ctx, body)
}

// Answer answers an inbound Call Control call with a media stream (POST
// /calls/{id}/actions/answer). clientState is base64, echoed in later
// events.
func (t *Client) Answer(ctx context.Context, callControlID, clientState string, s Stream) error {
	if strings.TrimSpace(callControlID) == "" {
		return provider.BadRequest(provider.NameTelnyx, "call id is empty")
	}
	body := struct {
		ClientState string `json:"client_state,omitempty"`
		telnyxStreamFields
	}{ClientState: clientState, telnyxStreamFields: telnyxStreamOf(s)}
	return t.call(ctx, http.MethodPost, "/calls/"+url.PathEscape(callControlID)+"/actions/answer", nil, body, nil)
}
