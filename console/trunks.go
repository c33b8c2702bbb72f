package console

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// trunkRow is one trunk as the list shows it.
type trunkRow struct {
	ID, Name, Gateway, GatewayName string
	Enabled, Register              bool
	GatewayState, PingStatus       string
	LastStatusCode                 int
	SyncState, SyncMessage, Source string
}

func rowOf(t *db.SIPTrunk) trunkRow {
	r := trunkRow{ID: t.ID, Name: t.Name, Gateway: t.Gateway, GatewayName: t.GatewayName, Enabled: t.Enabled,
		Register: t.Register, SyncState: "pending", Source: t.Source}
	if st := t.Status; st != nil {
		r.GatewayState, r.PingStatus, r.LastStatusCode = st.GatewayState, st.PingStatus, st.LastStatusCode
		r.SyncState, r.SyncMessage = st.SyncState, st.SyncMessage
	}
	return r
}

type trunksData struct {
	Rows []trunkRow
}

func (c *Console) trunkRows(r *http.Request, s *session) (trunksData, error) {
	items, _, err := c.d.Store.ListTrunks(r.Context(), s.orgID, db.Page{Limit: 500})
	if err != nil {
		return trunksData{}, err
	}
	d := trunksData{}
	for i := range items {
		d.Rows = append(d.Rows, rowOf(&items[i]))
	}
	return d, nil
}

func (c *Console) trunksPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.trunkRows(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := pageView(s, "SIP trunks", "trunks", d)
	v.Live = "page=trunks"
	c.render(w, http.StatusOK, "trunks", "", v)
}

// trunkForm is the create/edit form: the values shown and each field's error.
type trunkForm struct {
	ID, Name, Gateway, Username, Realm, Proxy, Transport string
	SRTP                                                 string
	Priority, PingSeconds                                string
	AllowedAddresses, Codecs                             string
	Register, Enabled, PasswordSet                       bool
	Errors                                               map[string]string
	Error                                                string // not tied to a field
}

type trunkPageData struct {
	Form trunkForm
	Row  trunkRow
	XML  string
	Note string
}

func formOf(t *db.SIPTrunk) trunkForm {
	return trunkForm{ID: t.ID, Name: t.Name, Gateway: t.Gateway, Username: t.Username, Realm: t.Realm, Proxy: t.Proxy,
		Transport: t.Transport, SRTP: cmp.Or(t.SRTP, "off"), Priority: strconv.Itoa(t.Priority), PingSeconds: strconv.Itoa(t.PingSeconds),
		AllowedAddresses: strings.Join(t.AllowedAddresses, ", "), Codecs: strings.Join(t.Codecs, ", "),
		Register: t.Register, Enabled: t.Enabled, PasswordSet: t.PasswordEnc != ""}
}

// readForm reads the posted form into the form shown back and the API's
// input (every field sent; a blank password or number is not sent).
func readForm(r *http.Request) (trunkForm, *trunkapi.Input) {
	f := trunkForm{Name: r.PostFormValue("name"), Gateway: r.PostFormValue("gateway"), Username: r.PostFormValue("username"),
		Realm: r.PostFormValue("realm"), Proxy: r.PostFormValue("proxy"), Transport: r.PostFormValue("transport"),
		SRTP: r.PostFormValue("srtp"), Priority: r.PostFormValue("priority"), PingSeconds: r.PostFormValue("ping_seconds"),
		AllowedAddresses: r.PostFormValue("allowed_addresses"), Codecs: r.PostFormValue("codecs"),
		Register: r.PostFormValue("register") == "on", Enabled: r.PostFormValue("enabled") == "on", Errors: map[string]string{}}
	in := &trunkapi.Input{Name: &f.Name, Gateway: &f.Gateway, Username: &f.Username, Realm: &f.Realm, Proxy: &f.Proxy,
		Register: &f.Register, Enabled: &f.Enabled}
	if f.Transport != "" {
		in.Transport = &f.Transport
	}
	if f.SRTP != "" {
		in.SRTP = &f.SRTP
	}
	if pw := r.PostFormValue("password"); pw != "" {
		in.Password = &pw
	}
	in.Priority = intField(f.Priority, "priority", f.Errors)
	in.PingSeconds = intField(f.PingSeconds, "ping_seconds", f.Errors)
	addrs, codecs := list(f.AllowedAddresses), list(f.Codecs)
	in.AllowedAddresses, in.Codecs = &addrs, &codecs
	return f, in
}

func intField(v, name string, errs map[string]string) *int {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		errs[name] = name + " must be a whole number"
		return nil
	}
	return &n
}

// list splits a comma- or space-separated list.
func list(v string) []string {
	out := []string{}
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, p)
	}
	return out
}

// showError puts a refusal next to its field (the API's field name, its
// index dropped: allowed_addresses[1] is the allowed_addresses box).
func (f *trunkForm) showError(err error) bool {
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return false
	}
	name := ae.Field
	if i := strings.IndexAny(name, "[."); i > 0 {
		name = name[:i]
	}
	if name == "" {
		f.Error = ae.Message
	} else {
		f.Errors[name] = ae.Message
	}
	return true
}

func (c *Console) trunkNew(w http.ResponseWriter, r *http.Request, s *session) {
	f := trunkForm{Register: true, Enabled: true, Transport: "udp", Priority: "1", Errors: map[string]string{}}
	c.render(w, http.StatusOK, "trunk", "", pageView(s, "New SIP trunk", "trunks", trunkPageData{Form: f}))
}

func (c *Console) trunkCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f, in := readForm(r)
	if len(f.Errors) == 0 {
		t, err := c.d.Trunks.Create(r.Context(), s.orgID, in)
		if err == nil {
			http.Redirect(w, r, "/console/trunks/"+t.ID, http.StatusSeeOther)
			return
		}
		if !f.showError(err) {
			c.fail(w, r, err)
			return
		}
	}
	c.render(w, http.StatusBadRequest, "trunk", "", pageView(s, "New SIP trunk", "trunks", trunkPageData{Form: f}))
}

func (c *Console) trunkPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.d.Store.GetTrunk(r.Context(), s.orgID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := trunkPageData{Form: formOf(t), Row: rowOf(t)}
	d.Form.Errors = map[string]string{}
	d.XML, d.Note = c.gatewayXML(r, t)
	c.render(w, http.StatusOK, "trunk", "", trunkView(s, t, d))
}

func (c *Console) trunkUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	t, err := c.d.Store.GetTrunk(r.Context(), s.orgID, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f, in := readForm(r)
	f.ID, f.PasswordSet = id, t.PasswordEnc != ""
	if len(f.Errors) == 0 {
		_, err := c.d.Trunks.Update(r.Context(), s.orgID, id, in)
		if err == nil {
			http.Redirect(w, r, "/console/trunks/"+id, http.StatusSeeOther)
			return
		}
		if !f.showError(err) {
			c.fail(w, r, err)
			return
		}
	}
	d := trunkPageData{Form: f, Row: rowOf(t)}
	d.XML, d.Note = c.gatewayXML(r, t)
	c.render(w, http.StatusBadRequest, "trunk", "", trunkView(s, t, d))
}

// trunkView is a trunk's page, its state following the store live.
func trunkView(s *session, t *db.SIPTrunk, d trunkPageData) view {
	v := pageView(s, t.Name, "trunks", d)
	v.Live = url.Values{"page": {"trunk"}, "id": {t.ID}}.Encode()
	return v
}

func (c *Console) trunkEnable(w http.ResponseWriter, r *http.Request, s *session) {
	c.setEnabled(w, r, s, true)
}

func (c *Console) trunkDisable(w http.ResponseWriter, r *http.Request, s *session) {
	c.setEnabled(w, r, s, false)
}

func (c *Console) setEnabled(w http.ResponseWriter, r *http.Request, s *session, on bool) {
	_, err := c.d.Trunks.SetEnabled(r.Context(), s.orgID, r.PathValue("id"), on)
	var ae *httpapi.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		c.notFound(w)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/trunks", http.StatusSeeOther)
}

var passwordParam = regexp.MustCompile(`(<param name="password" value=")[^"]*(")`)

// gatewayXML is the gateway file the reconciler would write for t, its
// password masked; or why there is none.
func (c *Console) gatewayXML(r *http.Request, t *db.SIPTrunk) (xml, note string) {
	if c.d.Render == nil {
		return "", "no FreeSWITCH is configured: no gateway file is written"
	}
	if !t.Enabled {
		return "", "disabled: no gateway file is written"
	}
	files, notes, err := c.d.Render.Render(r.Context(), []db.SIPTrunk{*t})
	if err != nil {
		c.log.Warn("console gateway render failed", "trunk", t.GatewayName, "err", err.Error())
		return "", "the gateway could not be rendered"
	}
	b := files["gateways/"+t.GatewayName+".xml"]
	return passwordParam.ReplaceAllString(string(b), "${1}********${2}"), notes[t.ID]
}
