package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// api calls the REST API with key and decodes the answer into out.
func (e *env) api(key, method, path string, body any, out any) int {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func trunkForm(name, gateway string) url.Values {
	return url.Values{"name": {name}, "gateway": {gateway}, "register": {"on"}, "enabled": {"on"}, "username": {"user1"},
		"password": {"s3cret-pw"}, "transport": {"udp"}, "priority": {"1"}, "allowed_addresses": {""}, "codecs": {""}}
}

func TestTrunkFormRefusesAsTheAPIDoes(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn(e.keyA)
		for _, c := range []struct{ field, value string }{{"gateway", "bad host!"}, {"codecs", "NOPE"}, {"allowed_addresses", "10.0.0.0/4"}} {
			form := trunkForm("T1", "203.0.113.10")
			form.Set(c.field, c.value)
			in := map[string]any{"name": "T1", "gateway": form.Get("gateway")}
			if c.field != "gateway" {
				in[c.field] = []string{c.value}
			}
			var apiErr struct {
				Error struct{ Field, Message string }
			}
			if st := e.api(e.keyA, http.MethodPost, "/api/v1/sip-trunks", in, &apiErr); st != http.StatusBadRequest {
				t.Fatalf("API %s=%q: %d", c.field, c.value, st)
			}
			resp, body := b.post("/console/trunks", form)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("console %s=%q: %d", c.field, c.value, resp.StatusCode)
			}
			field := strings.SplitN(apiErr.Error.Field, "[", 2)[0]
			mustContain(t, body, `data-field="`+field+`">`+html.EscapeString(apiErr.Error.Message)+`<`, `value="`+html.EscapeString(c.value)+`"`)
		}
		items, _, _ := e.store.ListTrunks(context.Background(), e.orgA, dbPage())
		if len(items) != 0 {
			t.Fatalf("refused forms wrote %d trunk(s)", len(items))
		}
	})
}

func TestAnotherOrganizationsResourcesAnswer404(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		var tb struct{ ID string }
		if st := e.api(e.keyB, http.MethodPost, "/api/v1/sip-trunks", map[string]any{"name": "Globex PBX", "gateway": "203.0.113.20", "register": false, "allowed_addresses": []string{"203.0.113.20/32"}}, &tb); st != http.StatusCreated {
			t.Fatalf("org B's trunk: %d", st)
		}
		callB := &db.Call{OrgID: e.orgB, Provider: "sip", Direction: "inbound", FromNumber: "+14155550100", ToNumber: "+16475550100", Status: "in-progress", StartedAt: time.Now()}
		if err := e.store.CreateCall(context.Background(), callB); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn(e.keyA)
		for _, p := range []string{"/console/trunks/" + tb.ID, "/console/calls/" + callB.ID} {
			if resp, _ := b.get(p); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET %s: %d", p, resp.StatusCode)
			}
		}
		for _, p := range []string{"/console/trunks/" + tb.ID, "/console/trunks/" + tb.ID + "/disable", "/console/calls/" + callB.ID + "/hangup"} {
			if resp, _ := b.post(p, trunkForm("Taken", "203.0.113.10")); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("POST %s: %d", p, resp.StatusCode)
			}
		}
		for _, p := range []string{"/console/trunks", "/console/calls", "/console/switch", "/console/numbers"} {
			if _, body := b.get(p); strings.Contains(body, "Globex") || strings.Contains(body, tb.ID) || strings.Contains(body, callB.ID) {
				t.Fatalf("%s shows org B's data", p)
			}
		}
		got, err := e.store.GetTrunk(context.Background(), e.orgB, tb.ID)
		if err != nil || got.Name != "Globex PBX" || !got.Enabled {
			t.Fatalf("org B's trunk changed: %+v %v", got, err)
		}
	})
}

// sse reads the live stream opened with query (page=… and the page's own
// parameters) until an event's data contains want.
func (b *browser) sse(query, want string, timeout time.Duration) string {
	b.e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.e.srv.URL+"/console/events?"+query, nil)
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		b.e.t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data.WriteString(d + "\n")
		} else if line == "" {
			if strings.Contains(data.String(), want) {
				return data.String()
			}
			data.Reset()
		}
	}
	b.e.t.Fatalf("no event of %s with %q within %v", query, want, timeout)
	return ""
}

func TestTrunkStateArrivesLiveAndXMLIsMasked(t *testing.T) {
	each(t, true, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn(e.keyA)
		resp, body := b.post("/console/trunks", trunkForm("Carrier", "203.0.113.10"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", resp.StatusCode, body)
		}
		id := strings.TrimPrefix(resp.Header.Get("Location"), "/console/trunks/")
		b.sse("page=trunks", `data-state="REGED"`, 10*time.Second)
		_, body = b.get("/console/trunks/" + id)
		mustContain(t, body, `id="gateway-xml"`, `&lt;param name=&#34;password&#34; value=&#34;********&#34;/&gt;`, `&lt;param name=&#34;username&#34; value=&#34;user1&#34;/&gt;`)
		if strings.Contains(body, "s3cret-pw") {
			t.Fatal("the trunk page shows the password")
		}
		// Disable: the gateway goes, and the list says so live.
		if resp, _ := b.post("/console/trunks/"+id+"/disable", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		b.sse("page=trunks", `>Enable</button>`, 10*time.Second)
		_, body = b.get("/console/switch")
		mustContain(t, body, "mod_audio_stream", "Carrier")
	})
}

func TestTrunkEditKeepsThePasswordAndRefusesLikeTheAPI(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		ctx := context.Background()
		var tr struct{ ID string }
		if st := e.api(e.keyA, http.MethodPost, "/api/v1/sip-trunks", map[string]any{"name": "Main", "gateway": "203.0.113.10", "username": "u", "password": "pw-1"}, &tr); st != http.StatusCreated {
			t.Fatalf("create: %d", st)
		}
		before, _ := e.store.GetTrunk(ctx, e.orgA, tr.ID)
		b := e.browser()
		b.signIn(e.keyA)
		_, body := b.get("/console/trunks/" + tr.ID)
		mustContain(t, body, `value="Main"`, "set: leave blank to keep")
		form := trunkForm("Main renamed", "203.0.113.11")
		form.Del("password")
		form.Set("ping_seconds", "30")
		form.Set("srtp", "mandatory")
		if resp, body := b.post("/console/trunks/"+tr.ID, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: %d\n%s", resp.StatusCode, body)
		}
		after, _ := e.store.GetTrunk(ctx, e.orgA, tr.ID)
		if after.Name != "Main renamed" || after.Gateway != "203.0.113.11" || after.PingSeconds != 30 || after.PasswordEnc != before.PasswordEnc || after.SRTP != "mandatory" {
			t.Fatalf("after the edit: name %q gateway %q ping %d srtp %q, password kept %v", after.Name, after.Gateway, after.PingSeconds, after.SRTP, after.PasswordEnc == before.PasswordEnc)
		}
		_, body = b.get("/console/trunks/" + tr.ID)
		mustContain(t, body, `<option selected>mandatory</option>`)
		// A name another trunk has: the API's 409, beside the name.
		var other struct{ ID string }
		e.api(e.keyA, http.MethodPost, "/api/v1/sip-trunks", map[string]any{"name": "Backup", "gateway": "203.0.113.12", "username": "u", "password": "p"}, &other)
		form.Set("name", "Backup")
		resp, body := b.post("/console/trunks/"+tr.ID, form)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a taken name: %d", resp.StatusCode)
		}
		mustContain(t, body, `data-field="name">a SIP trunk named &#34;Backup&#34; already exists<`)
		form.Set("ping_seconds", "soon")
		_, body = b.post("/console/trunks/"+tr.ID, form)
		mustContain(t, body, `data-field="ping_seconds">ping_seconds must be a whole number<`)
	})
}

// An open live-update stream ends when the bridge stops, so shutting the
// HTTP server down does not wait on a console tab.
func TestLiveStreamEndsWhenTheBridgeStops(t *testing.T) {
	each(t, false, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn(e.keyA)
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/events?page=trunks", nil)
		c := *b.c
		c.Timeout = 0
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		ended := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, resp.Body)
			close(ended)
		}()
		select {
		case <-ended:
			t.Fatal("the stream ended on its own")
		case <-time.After(300 * time.Millisecond):
		}
		e.app.Close()
		select {
		case <-ended:
		case <-time.After(3 * time.Second):
			t.Fatal("the stream outlived the bridge")
		}
	})
}
