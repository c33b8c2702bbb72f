package console

import (
	"net/http"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/numberapi"
)

// option is one choice of an assign form's select.
type option struct{ ID, Name string }

type numbersData struct {
	Numbers    []db.PhoneNumber
	Assistants map[string]string // id → name
	Trunks     map[string]string
	// The assign forms' choices, in the store's order.
	AssistantOptions, TrunkOptions []option
	// Errors are a refused assignment's, by number id and field.
	Errors map[string]map[string]string
	// Webhooks are where the number's provider sends its calls and
	// messages, by number id.
	Webhooks map[string]webhooks
}

// webhooks are a number's provider webhooks as sipbridge configures them,
// or why there are none.
type webhooks struct{ Voice, SMS, None string }

func (c *Console) webhooksOf(n db.PhoneNumber) webhooks {
	if n.Provider == db.ProviderBYOSIP {
		return webhooks{None: "none: calls arrive over the SIP trunk"}
	}
	if c.d.Webhooks == nil {
		return webhooks{None: "not known here"}
	}
	voice, sms, err := c.d.Webhooks(n.Provider)
	if err != nil {
		return webhooks{None: err.Error()}
	}
	return webhooks{Voice: voice, SMS: sms}
}

func (c *Console) numbersPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showNumbers(w, r, s, http.StatusOK, nil)
}

func (c *Console) showNumbers(w http.ResponseWriter, r *http.Request, s *session, status int, errs map[string]map[string]string) {
	ctx := r.Context()
	nums, _, err := c.d.Store.ListNumbers(ctx, s.orgID, db.NumberFilter{}, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := numbersData{Numbers: nums, Assistants: map[string]string{}, Trunks: map[string]string{}, Errors: errs, Webhooks: map[string]webhooks{}}
	for _, n := range nums {
		d.Webhooks[n.ID] = c.webhooksOf(n)
	}
	as, _, err := c.d.Store.ListAssistants(ctx, s.orgID, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, a := range as {
		d.Assistants[a.ID] = a.Name
		d.AssistantOptions = append(d.AssistantOptions, option{a.ID, a.Name})
	}
	ts, _, err := c.d.Store.ListTrunks(ctx, s.orgID, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, t := range ts {
		d.Trunks[t.ID] = t.Name
		d.TrunkOptions = append(d.TrunkOptions, option{t.ID, t.Name})
	}
	c.render(w, status, "numbers", "", pageView(s, "Phone numbers", "numbers", d))
}

// numberAssign assigns (or, with "", unassigns) the number's assistant and
// trunk as PATCH /api/v1/phone-numbers/{id} does; a field not posted is
// left as it is. A refusal is shown beside its field in the API's words.
func (c *Console) numberAssign(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var a numberapi.Assignment
	for _, f := range []struct {
		name string
		dst  **string
	}{{"assistant_id", &a.AssistantID}, {"outbound_assistant_id", &a.OutboundAssistantID}, {"sip_trunk_id", &a.SIPTrunkID}} {
		if vs, ok := r.PostForm[f.name]; ok && len(vs) > 0 {
			v := vs[0]
			*f.dst = &v
		}
	}
	_, err := c.d.Numbers.Assign(r.Context(), s.orgID, id, a)
	if err == nil {
		http.Redirect(w, r, "/console/numbers#number-"+id, http.StatusSeeOther)
		return
	}
	ae := apiError(err)
	if ae == nil {
		c.fail(w, r, err)
		return
	}
	if ae.Field == "" && ae.Status == http.StatusNotFound {
		c.notFound(w) // another organization's number, or none
		return
	}
	field := ae.Field
	if field == "" {
		field = "form"
	}
	c.showNumbers(w, r, s, http.StatusBadRequest, map[string]map[string]string{id: {field: ae.Message}})
}
