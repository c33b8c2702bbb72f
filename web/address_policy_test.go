package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// The reproductions of the issue "Safe for many tenants": each is refused
// at write time, 400 validation_failed naming the field.
var (
	badWebhookURLs = []string{
		"http://127.0.0.1:9000/hook", "http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/computeMetadata/v1/",
		"http://[::1]:8080/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://localhost:8080/",
		"http://localhost./", "http://[::ffff:127.0.0.1]/", "http://[::]/", "http://0.0.0.0:8021/",
		"http://user:pass@hooks.example.com/sms", "http://hooks.example.com:99999/",
		"http://rebind.example/sms", // resolves to 127.0.0.1
		"http://imds.example/sms",   // one of its addresses is 169.254.169.254
	}
	badStreamURLs = []string{
		"ws://127.0.0.1:8021/", "ws://169.254.1.1/stream", "ws://ai.example.com:99999/stream", "wss://[::1]/stream",
		"ws://localhost:8080/", "ws://2130706433:8080/", "ws://metadata:80/", "ws://u:p@ai.example.com/stream",
		"ws://rebind.example/stream", "wss://[fe80::1%25eth0]/",
	}
	badGateways = []string{
		"127.0.0.1", "localhost", "127.0.0.1:8021", "169.254.169.254", "0.0.0.0", "[::1]", "[::1]:5060",
		"localhost.", "2130706433", "[::ffff:127.0.0.1]:5060", "[::]", "rebind.example", "metadata.google.internal",
	}
)

func TestAddressPolicyAtWriteTime(t *testing.T) {
	e := newEnv(t) // production's default policy
	expect400 := func(method, path, field string, body map[string]any) {
		t.Helper()
		r := e.do(method, path, e.keyA, body)
		if r.Status != 400 || r.errCode() != "validation_failed" || r.errField() != field {
			t.Errorf("%s %s %v: %d %s, want 400 naming %s", method, path, body, r.Status, r.Raw, field)
		}
	}
	for _, u := range badWebhookURLs {
		expect400("POST", "/api/v1/assistants", "sms_webhook_url", map[string]any{"name": "A", "sms_webhook_url": u})
	}
	for _, u := range badStreamURLs {
		expect400("POST", "/api/v1/assistants", "stream_url", map[string]any{"name": "A", "stream_url": u})
	}
	for _, to := range []string{"sip:desk@127.0.0.1", "sip:desk@localhost:5060;transport=tcp", "sips:+14165550100@[::1]", "sip:desk@169.254.169.254?X=1"} {
		expect400("POST", "/api/v1/assistants", "fallback_transfer_number", map[string]any{"name": "A", "fallback_transfer_number": to})
	}
	// A private-network assistant is fine with the default policy; a name
	// that does not resolve (yet) is accepted and checked when dialled.
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "On-prem", "stream_url": "ws://10.1.2.3:8080/stream",
		"sms_webhook_url": "http://internal.example:8080/sms", "fallback_transfer_number": "sip:desk@pbx.example.com;transport=tcp"}, 201)
	id := asst.Body["id"].(string)
	e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"stream_url": "wss://ai.example.com/stream"}, 200)
	expect400("PUT", "/api/v1/assistants/"+id, "sms_webhook_url", map[string]any{"sms_webhook_url": "http://169.254.169.254/"})
	if got := e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 200).Body; got["sms_webhook_url"] != "http://internal.example:8080/sms" {
		t.Fatalf("a refused PUT changed the assistant: %v", got)
	}
	if n := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).Total; n != 1.0 {
		t.Fatalf("refused assistants were stored: %v", n)
	}

	// Trunks: gateway, proxy, realm.
	trunk := func(kv ...any) map[string]any {
		b := regTrunk("T")
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	for _, gw := range badGateways {
		expect400("POST", "/api/v1/sip-trunks", "gateway", trunk("gateway", gw))
	}
	expect400("POST", "/api/v1/sip-trunks", "proxy", trunk("proxy", "127.0.0.1:5060"))
	expect400("POST", "/api/v1/sip-trunks", "realm", trunk("realm", "localhost"))
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, trunk("name", "PBX", "gateway", "10.0.0.1"), 201) // private: allowed by default
	tr := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, trunk("name", "Carrier"), 201).Body["id"].(string)
	expect400("PUT", "/api/v1/sip-trunks/"+tr, "gateway", map[string]any{"gateway": "169.254.169.254"})
	if n := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).Total; n != 2.0 {
		t.Fatalf("refused trunks were stored: %v", n)
	}

	// The organization's SIP gateway and a BYOC number's termination URI.
	expect400("PUT", "/api/v1/organization", "sip_gateway", map[string]any{"sip_gateway": "169.254.169.254"})
	for _, uri := range []string{"sip:127.0.0.1", "sip:u@localhost:5060;transport=tcp", "sip:[::1]", "sip:0.0.0.0"} {
		expect400("POST", "/api/v1/byoc/phone-numbers", "terminationUri", map[string]any{"phoneNumber": "+16478491111", "terminationUri": uri})
	}

	// The message names the host and why, nothing more.
	r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A", "stream_url": "ws://rebind.example/stream"})
	if msg := r.Body["error"].(map[string]any)["message"]; msg != "stream_url: rebind.example resolves to 127.0.0.1, a loopback address; sipbridge does not connect there" {
		t.Fatalf("message: %v", msg)
	}
}

func TestAddressPolicyWithoutPrivateNetworks(t *testing.T) {
	e := newEnvWith(t, &netpolicy.Policy{Resolver: testResolver}) // ALLOW_PRIVATE_ADDRESSES=false
	for field, v := range map[string]string{"stream_url": "ws://10.1.2.3:8080/stream", "sms_webhook_url": "http://internal.example/sms"} {
		if r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A", field: v}); r.Status != 400 || r.errField() != field ||
			!strings.Contains(r.Raw, "private-network") {
			t.Errorf("%s %s: %d %s", field, v, r.Status, r.Raw)
		}
	}
	b := regTrunk("PBX")
	b["gateway"] = "192.168.1.10:5060"
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, b); r.Status != 400 || r.errField() != "gateway" {
		t.Errorf("private gateway: %d %s", r.Status, r.Raw)
	}
	e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Public", "stream_url": "wss://8.8.8.8/stream"}, 201)
}

func TestAddressPolicyLoopbackForDevelopment(t *testing.T) {
	e := newEnvWith(t, loopbackPolicy()) // ALLOW_LOOPBACK_ADDRESSES=true (make run)
	e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Local", "stream_url": "ws://127.0.0.1:8765/stream",
		"sms_webhook_url": "http://localhost:3000/sms"}, 201)
	b := regTrunk("Local PBX")
	b["gateway"] = "127.0.0.1:5080"
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, b, 201)
	// Never, whatever the policy: unspecified, multicast, numeric forms, credentials.
	for _, u := range []string{"ws://0.0.0.0:8765/", "ws://[::]:8765/", "ws://224.0.0.1/", "ws://2130706433/", "ws://0x7f.1/", "ws://u:p@127.0.0.1/"} {
		if r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A", "stream_url": u}); r.Status != 400 || r.errField() != "stream_url" {
			t.Errorf("%s: %d %s", u, r.Status, r.Raw)
		}
	}
}

// TestForwardErrorsReadTheSame: a forward to an address the policy refuses
// (here a name whose address changed after it was written), to a closed
// port and to a port that never answers all show the same last_error; only
// an HTTP answer reads differently.
func TestForwardErrorsReadTheSame(t *testing.T) {
	// Loopback allowed (the test servers), private networks not.
	e := newEnvWith(t, &netpolicy.Policy{AllowLoopback: true, Resolver: testResolver})
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()

	targets := map[string]string{ // assistant number → sms_webhook_url
		"+16475550101": "http://internal.example:8080/sms", // 10.1.2.3: refused by the policy
		"+16475550102": "http://" + closed + "/sms",
		"+16475550103": "http://" + silent.Addr().String() + "/sms",
		"+16475550104": failing.URL + "/sms",
	}
	ctx := context.Background()
	for number, u := range targets {
		id := e.smsSender(e.keyA, number, "")
		// Stored as it might have been before the policy (or before its
		// name moved): the forward is checked when it connects.
		a, err := e.store.GetAssistant(ctx, e.orgA, id)
		if err != nil {
			t.Fatal(err)
		}
		a.SMSWebhookURL = u
		sec, _ := e.store.AssistantSecrets(a)
		if err := e.store.SaveAssistant(ctx, a, sec); err != nil {
			t.Fatal(err)
		}
		e.mustDo("POST", "/api/v1/assistants/"+id+"/sms-webhook-secret", e.keyA, nil, 201)
		if r := e.twilioInbound(e.twilio.AuthToken, "SM"+number[1:], "+16475550111", number, "hi", nil); r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Raw)
		}
	}
	startWorkers(t, e.sms.svc.RunForwards)
	lastErrors := func() map[string]string {
		out := map[string]string{}
		convs := e.mustDo("GET", "/api/v1/sms/conversations", e.keyA, nil, 200).List
		for _, c := range convs {
			cv := c.(map[string]any)
			msgs := e.mustDo("GET", "/api/v1/sms/conversations/"+cv["id"].(string)+"/messages", e.keyA, nil, 200).List
			for _, m := range msgs {
				full := e.getSMS(m.(map[string]any)["id"].(string))
				if fw, ok := full["forward"].(map[string]any); ok && fw["attempts"].(float64) >= 1 {
					out[cv["assistant_number"].(string)] = fw["last_error"].(string)
				}
			}
		}
		return out
	}
	var got map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for got = lastErrors(); len(got) < len(targets) && time.Now().Before(deadline); got = lastErrors() {
		time.Sleep(50 * time.Millisecond)
	}
	want := "could not connect to the assistant's sms_webhook_url"
	for _, n := range []string{"+16475550101", "+16475550102", "+16475550103"} {
		if got[n] != want {
			t.Errorf("%s (%s): last_error %q, want %q", n, targets[n], got[n], want)
		}
	}
	if got["+16475550104"] != "assistant answered HTTP 500" {
		t.Errorf("HTTP 500: last_error %q", got["+16475550104"])
	}
	// The log keeps the causes.
	logs := e.logs.String()
	for _, cause := range []string{"internal.example resolves to 10.1.2.3", "connection refused"} {
		if !strings.Contains(logs, cause) {
			t.Errorf("the log lacks %q", cause)
		}
	}
}

// TestAssistantOnARefusedAddressIsUnreachable: a stream_url stored before
// the policy (or whose name now resolves elsewhere) is checked when the
// call dials it; the call takes the unreachable path and its timeline reads
// exactly as for a closed port.
func TestAssistantOnARefusedAddressIsUnreachable(t *testing.T) {
	ce := newCallEnv(t, func(o *sip.CallsOptions) { o.AddressPolicy = defaultPolicy() }) // the fake assistant is on 127.0.0.1
	ce.addNumber("+16478491000", ce.assistant.ID)
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	ce.waitCommand("uuid_kill "+uuid+" NORMAL_TEMPORARY_FAILURE", 2*time.Second)
	rec := ce.waitCall(uuid, db.CallFailed, 3*time.Second)
	if !strings.Contains(rec.Reason, "assistant unreachable") {
		t.Fatalf("record %+v", rec)
	}
	ce.asst.mu.Lock()
	n := len(ce.asst.conns)
	ce.asst.mu.Unlock()
	if n != 0 {
		t.Fatalf("the assistant on 127.0.0.1 got %d connections", n)
	}
	r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
	want := `"error":"assistant: unreachable: ` + ce.asst.URL() + `: could not connect"`
	if !strings.Contains(r.Raw, want) {
		t.Fatalf("timeline %s lacks %s", r.Raw, want)
	}
	if !strings.Contains(ce.logs.String(), "127.0.0.1 is a loopback address") {
		t.Fatal("the log lacks the cause")
	}
}
