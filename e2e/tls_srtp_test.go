package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"tls_trunk", testTLSTrunk}, scenario{"tls_inbound_srtp", testTLSInboundSRTP})
}

// srcTLSCarrier is the TLS carrier FreeSWITCH registers with and calls;
// srcTLSCaller the carrier calling in over TLS on an IP-auth trunk.
const (
	srcTLSCarrier = "127.0.0.76"
	srcTLSCaller  = "127.0.0.77"
)

// tlsCarrier is a carrier reached over SIP TLS only (sipgo's sip package, a certificate
// of the suite CA for its address): it accepts every REGISTER, keeps every
// request it gets and declines every INVITE (603) once kept.
type tlsCarrier struct {
	IP   string
	Port int
	mu   sync.Mutex
	reqs []*sip.Request
}

func startTLSCarrier(t *testing.T, ip string) *tlsCarrier {
	t.Helper()
	ca, err := suiteCA()
	if err != nil {
		t.Fatal(err)
	}
	return startTLSCarrierOf(t, ip, ca)
}

// startTLSCarrierOf is startTLSCarrier with a certificate signed by ca.
func startTLSCarrierOf(t *testing.T, ip string, ca *testCA) *tlsCarrier {
	t.Helper()
	_, cert, err := ca.issue("e2e TLS carrier", ip)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(ip, "0"), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsCarrier{IP: ip, Port: ln.Addr().(*net.TCPAddr).Port}
	tpl, txl := sipLayers(t, ca)
	txl.OnRequest(func(req *sip.Request, tx *sip.ServerTx) {
		c.mu.Lock()
		c.reqs = append(c.reqs, req)
		c.mu.Unlock()
		if tx == nil || req.IsAck() {
			return
		}
		code, phrase := 200, "OK"
		if req.IsInvite() {
			code, phrase = 603, "Decline"
		}
		res := sip.NewResponseFromRequest(req, code, phrase, nil)
		if req.Method == sip.REGISTER {
			if ct := req.Contact(); ct != nil {
				res.AppendHeader(ct)
			}
			res.AppendHeader(sip.NewHeader("Expires", "60"))
		}
		tx.Respond(res)
	})
	go tpl.ServeTLS(ln)
	t.Cleanup(func() { ln.Close() })
	return c
}

// sipLayers are a SIP peer's transport and transaction layers (sipgo's
// sip package), trusting the suite CA on the TLS connections it opens.
func sipLayers(t *testing.T, ca *testCA) (*sip.TransportLayer, *sip.TransactionLayer) {
	tpl := sip.NewTransportLayer(net.DefaultResolver, sip.NewParser(), &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	txl := sip.NewTransactionLayer(tpl)
	t.Cleanup(func() { txl.Close(); tpl.Close() })
	return tpl, txl
}

// Requests returns the requests of one method the carrier got, as text.
func (c *tlsCarrier) Requests(method sip.RequestMethod) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.reqs {
		if r.Method == method {
			out = append(out, r.String())
		}
	}
	return out
}

// testTLSTrunk: a registration trunk with transport tls and srtp
// mandatory registers over TLS (FreeSWITCH checks the carrier's
// certificate: tls_verify_policy out), and an outbound call through it is
// an INVITE over TLS offering SRTP only (RTP/SAVP with a=crypto); with
// srtp optional the offer is RTP/AVP with a=crypto (plain RTP accepted).
func testTLSTrunk(t *testing.T, b *Bridge) {
	carrier := startTLSCarrier(t, srcTLSCarrier)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "TLS Caller", asst, nil)
	tr := b.CreateTrunk(t, map[string]any{"name": "TLS Carrier", "gateway": fmt.Sprintf("%s:%d", carrier.IP, carrier.Port),
		"username": "tlsuser", "password": "s3cret", "transport": "tls", "srtp": "mandatory", "expire_seconds": 60, "retry_seconds": 5})
	tr = b.WaitTrunk(t, tr.ID, "gateway_state REGED over TLS", 10*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
	regs := carrier.Requests(sip.REGISTER)
	if len(regs) == 0 || !strings.Contains(regs[0], "SIP/2.0/TLS") || !strings.Contains(regs[0], "tlsuser@") {
		t.Fatalf("the TLS carrier's REGISTERs (want a TLS Via, user tlsuser):\n%s", strings.Join(regs, "\n"))
	}
	const from = "+16478496000"
	b.addNumberOn(t, from, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	offer := func(t *testing.T, to string) string {
		t.Helper()
		st, body := b.API.Do(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": to, "wait": true})
		if st != http.StatusBadGateway {
			t.Fatalf("initiate to a carrier declining: %d %s, want 502", st, body)
		}
		for _, inv := range carrier.Requests(sip.INVITE) {
			if strings.HasPrefix(inv, "INVITE sip:"+to+"@") {
				return inv
			}
		}
		t.Fatalf("no INVITE for %s at the TLS carrier", to)
		return ""
	}
	t.Run("mandatory", func(t *testing.T) {
		inv := offer(t, "+12125556001")
		if !strings.Contains(inv, "SIP/2.0/TLS") || !strings.Contains(inv, " RTP/SAVP ") || !strings.Contains(inv, "a=crypto:") || strings.Contains(inv, " RTP/AVP ") {
			t.Errorf("INVITE through a tls, srtp=mandatory trunk: want a TLS Via and an RTP/SAVP offer with a=crypto only:\n%s", inv)
		}
	})
	t.Run("optional", func(t *testing.T) {
		b.UpdateTrunk(t, tr.ID, map[string]any{"srtp": "optional"})
		b.WaitApplied(t, tr.ID, 10*time.Second)
		testkit.Eventually(t, 10*time.Second, "the changed gateway REGED again", func() bool {
			g, ok := b.SW.Gateway(t, tr.GatewayName)
			return ok && g.State == "REGED"
		}, nil)
		b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
		inv := offer(t, "+12125556002")
		if !strings.Contains(inv, "SIP/2.0/TLS") || !strings.Contains(inv, " RTP/AVP ") || !strings.Contains(inv, "a=crypto:") {
			t.Errorf("INVITE through a srtp=optional trunk: want RTP/AVP with a=crypto:\n%s", inv)
		}
	})
}

// sdpOffer is a caller's offer of PCMU on port 40000 of ip: RTP/SAVP with
// an SDES key when secure, plain RTP/AVP otherwise.
func sdpOffer(ip string, secure bool) []byte {
	proto, crypto := "RTP/AVP", ""
	if secure {
		proto, crypto = "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	}
	return []byte("v=0\r\no=carrier 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio 40000 " + proto +
		" 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" + crypto + "a=sendrecv\r\n")
}

// tlsCall places a call over TLS from srcTLSCaller to the switch's TLS
// port (the switch's certificate checked against the suite CA) and
// returns its final answer; an answered call is acknowledged, answered()
// runs, and the caller hangs up.
func tlsCall(t *testing.T, b *Bridge, from, to string, sdp []byte, answered func()) *sip.Response {
	t.Helper()
	ca, err := suiteCA()
	if err != nil {
		t.Fatal(err)
	}
	tpl, txl := sipLayers(t, ca)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ruri := sip.Uri{Scheme: "sip", User: to, Host: "127.0.0.1", Port: b.SW.TLSPort, UriParams: sip.NewParams()}
	ruri.UriParams.Add("transport", "tls")
	d := &tlsDialog{ruri: ruri, callID: sip.CallIDHeader(sip.GenerateTagN(20)), laddr: sip.Addr{IP: net.ParseIP(srcTLSCaller)},
		from: &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: srcTLSCaller}, Params: sip.NewParams()},
		to:   &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: "127.0.0.1", Port: b.SW.TLSPort}, Params: sip.NewParams()}}
	d.from.Params.Add("tag", sip.GenerateTagN(12))
	inv := d.request(sip.INVITE, 1)
	ct := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: strings.TrimPrefix(from, "+"), Host: srcTLSCaller, UriParams: sip.NewParams()}}
	ct.Address.UriParams.Add("transport", "tls")
	inv.AppendHeader(ct)
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(sdp)
	res := d.final(ctx, t, txl, inv)
	if !res.IsSuccess() {
		return res
	}
	d.to = res.To()
	if ct := res.Contact(); ct != nil {
		d.ruri = ct.Address // in-dialog requests go to the switch's Contact
	}
	if err := tpl.WriteMsg(d.request(sip.ACK, 1)); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	answered()
	if bye := d.final(ctx, t, txl, d.request(sip.BYE, 2)); bye.StatusCode != 200 {
		t.Errorf("BYE answered %d", bye.StatusCode)
	}
	return res
}

// tlsDialog is the caller's side of one call over TLS.
type tlsDialog struct {
	ruri   sip.Uri
	callID sip.CallIDHeader
	from   *sip.FromHeader
	to     *sip.ToHeader
	laddr  sip.Addr // the caller's address (the connection to the switch is reused)
}

func (d *tlsDialog) request(m sip.RequestMethod, seq uint32) *sip.Request {
	req := sip.NewRequest(m, d.ruri)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "TLS", Host: srcTLSCaller, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	maxf := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(d.from)
	req.AppendHeader(d.to)
	req.AppendHeader(&d.callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
	req.AppendHeader(&maxf)
	req.SetBody(nil) // Content-Length: 0, which a stream transport needs
	req.SetTransport("TLS")
	d.laddr.Copy(&req.Laddr)
	return req
}

// final sends req in a client transaction and returns its final answer.
func (d *tlsDialog) final(ctx context.Context, t *testing.T, txl *sip.TransactionLayer, req *sip.Request) *sip.Response {
	t.Helper()
	tx, err := txl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s over TLS: %v", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return res
			}
		case <-tx.Done():
			t.Fatalf("%s: no final answer: %v", req.Method, tx.Err())
		case <-ctx.Done():
			t.Fatalf("%s: no final answer within 15 s", req.Method)
		}
	}
}

// testTLSInboundSRTP: a carrier calls in over TLS on its IP-auth trunk.
// srtp mandatory: a plain offer is refused with 488, an offer with an SDES
// key answered 200 with RTP/SAVP and a=crypto (the assistant gets the
// call); srtp optional: the plain offer is answered with plain RTP.
func testTLSInboundSRTP(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "TLS Desk", asst, nil)
	tr := b.ipTrunk(t, "TLS Caller", srcTLSCaller, srcTLSCaller+":5061", map[string]any{"transport": "tls", "srtp": "mandatory"})
	const to = "+12125556100"
	b.addNumberOn(t, to, asstID, tr.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	if st := b.SW.API(t, "sofia status profile external"); !strings.Contains(st, "TLS-URL") || !strings.Contains(st, ":"+strconv.Itoa(b.SW.TLSPort)) {
		t.Fatalf("the external profile has no TLS port %d:\n%s", b.SW.TLSPort, st)
	}

	t.Run("mandatory_plain_refused", func(t *testing.T) {
		res := tlsCall(t, b, "+14165550901", to, sdpOffer(srcTLSCaller, false), func() { t.Error("a plain offer was answered") })
		if res.StatusCode != 488 {
			t.Errorf("plain offer on a srtp=mandatory trunk answered %d %s, want 488", res.StatusCode, res.Reason)
		}
		rec := b.waitRecord(t, "the refused record", 5*time.Second, func(c CallRecord) bool { return c.From == "+14165550901" && c.EndedAt != nil })
		if rec.Status != "refused" || rec.SIPStatus != 488 {
			t.Errorf("record %s: want refused with 488", jsonString(rec))
		}
	})
	t.Run("mandatory_crypto_answered", func(t *testing.T) {
		res := tlsCall(t, b, "+14165550902", to, sdpOffer(srcTLSCaller, true), func() {
			ac := asst.ByParam(t, "from", "+14165550902", 10*time.Second)
			testkit.Eventually(t, 5*time.Second, "the call's audio at the assistant", func() bool { return ac.Frames() >= 10 }, nil)
		})
		if body := string(res.Body()); res.StatusCode != 200 || !strings.Contains(body, " RTP/SAVP ") || !strings.Contains(body, "a=crypto:") {
			t.Errorf("SRTP offer answered %d with SDP (want 200, RTP/SAVP and a=crypto):\n%s", res.StatusCode, body)
		}
	})
	t.Run("optional_plain_answered", func(t *testing.T) {
		b.UpdateTrunk(t, tr.ID, map[string]any{"srtp": "optional"})
		b.WaitApplied(t, tr.ID, 10*time.Second)
		res := tlsCall(t, b, "+14165550903", to, sdpOffer(srcTLSCaller, false), func() {
			ac := asst.ByParam(t, "from", "+14165550903", 10*time.Second)
			testkit.Eventually(t, 5*time.Second, "the call's audio at the assistant", func() bool { return ac.Frames() >= 10 }, nil)
		})
		if body := string(res.Body()); res.StatusCode != 200 || !strings.Contains(body, " RTP/AVP ") || strings.Contains(body, "a=crypto:") {
			t.Errorf("plain offer on a srtp=optional trunk answered %d with SDP (want 200, plain RTP/AVP):\n%s", res.StatusCode, body)
		}
	})
}
