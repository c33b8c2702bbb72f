package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sipbridge/sipbridge/provider/internal/wire"
)

// twilioTransport is the http.RoundTripper under twilio-go. twilio-go builds
// its requests with context.Background() against https://api.twilio.com; we
// send them with the caller's context to the configured base URL, through the
// shared core (timeout, retries of GET/DELETE only).
type twilioTransport struct {
	ctx  context.Context
	core *wire.Core
	base *url.URL
}

func (t *twilioTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	u := *req.URL
	u.Scheme = t.base.Scheme
	u.Host = t.base.Host
	u.Path = t.base.Path + u.Path
	u.RawPath = ""
	resp, err := t.core.Do(t.ctx, req.Method, u.String(), req.Header, body)
	if err != nil {
		return nil, err
	}
	data := resp.Body
	if resp.Status >= 400 {
		data = twilioErrorBody(resp.Status, data)
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        resp.Header,
		Body:          io.NopCloser(bytes.NewReader(data)),
		ContentLength: int64(len(data)),
		Request:       req,
	}, nil
}

// twilioErrorBody rewrites an error answer so that twilio-go always decodes
// it as a TwilioRestError carrying the HTTP status: a proxy's HTML 502 or an
// empty 503 becomes {"code":0,"message":<text>,"status":502}, and odd JSON
// (a string code, no status) is normalised.
func twilioErrorBody(status int, body []byte) []byte {
	e := parseTwilioError(status, body)
	out, _ := json.Marshal(map[string]any{
		"code": e.Code, "message": e.Message, "more_info": e.MoreInfo, "status": status,
	})
	return out
}
