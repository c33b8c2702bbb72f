package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"gorm.io/gorm"
)

func TestListNumbers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		asst := &db.Assistant{OrgID: org.ID, Name: "Front"}
		if err := s.SaveAssistant(ctx, asst, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		tr := mustCreateTrunk(t, s, trunk(org.ID, "carrier", nil))
		mk := func(org int64, e164, provider, friendly string, mutate func(*db.PhoneNumber)) {
			t.Helper()
			n := &db.PhoneNumber{OrgID: org, PhoneNumber: e164, Provider: provider, FriendlyName: friendly, CapVoice: true, IsActive: true}
			if mutate != nil {
				mutate(n)
			}
			if err := s.SaveNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		mk(org.ID, "+14155550100", db.ProviderTwilio, "Main Line", func(n *db.PhoneNumber) { n.AssistantID = &asst.ID })
		mk(org.ID, "+14155550101", db.ProviderTelnyx, "support_desk", func(n *db.PhoneNumber) { n.OutboundAssistantID = &asst.ID; n.IsActive = false })
		mk(org.ID, "+442079460018", db.ProviderBYOSIP, "London 50% off", func(n *db.PhoneNumber) { n.SIPTrunkID = &tr.ID })
		mk(org.ID, "+14155550102", db.ProviderBYOSIP, `Back\office`, func(n *db.PhoneNumber) { n.SIPTrunkID = &tr.ID })
		mk(other.ID, "+14155550199", db.ProviderTwilio, "Main Line", nil)

		yes, no := true, false
		for _, c := range []struct {
			what  string
			f     db.NumberFilter
			p     db.Page
			want  []string
			total int64
		}{
			{"all, by number", db.NumberFilter{}, db.Page{}, []string{"+14155550100", "+14155550101", "+14155550102", "+442079460018"}, 4},
			{"page", db.NumberFilter{}, db.Page{Skip: 1, Limit: 2}, []string{"+14155550101", "+14155550102"}, 4},
			{"provider", db.NumberFilter{Provider: db.ProviderBYOSIP}, db.Page{}, []string{"+14155550102", "+442079460018"}, 2},
			{"assistant, inbound or outbound", db.NumberFilter{AssistantID: asst.ID}, db.Page{}, []string{"+14155550100", "+14155550101"}, 2},
			{"assistant and active", db.NumberFilter{AssistantID: asst.ID, Active: &yes}, db.Page{}, []string{"+14155550100"}, 1},
			{"inactive", db.NumberFilter{Active: &no}, db.Page{}, []string{"+14155550101"}, 1},
			{"trunk", db.NumberFilter{SIPTrunkID: tr.ID}, db.Page{}, []string{"+14155550102", "+442079460018"}, 2},
			{"exact", db.NumberFilter{Exact: "+14155550101"}, db.Page{}, []string{"+14155550101"}, 1},
			{"part of the number", db.NumberFilter{Search: "5550101"}, db.Page{}, []string{"+14155550101"}, 1},
			{"friendly name, any case", db.NumberFilter{Search: "main line"}, db.Page{}, []string{"+14155550100"}, 1},
			{"friendly name, upper case", db.NumberFilter{Search: "LONDON"}, db.Page{}, []string{"+442079460018"}, 1},
			{"underscore is a character", db.NumberFilter{Search: "_"}, db.Page{}, []string{"+14155550101"}, 1},
			{"percent is a character", db.NumberFilter{Search: "50%"}, db.Page{}, []string{"+442079460018"}, 1},
			{"backslash is a character", db.NumberFilter{Search: `k\o`}, db.Page{}, []string{"+14155550102"}, 1},
			{"search and provider", db.NumberFilter{Search: "+1415", Provider: db.ProviderBYOSIP}, db.Page{}, []string{"+14155550102"}, 1},
			{"nothing", db.NumberFilter{Search: "nowhere"}, db.Page{}, []string{}, 0},
			{"trunk, no total (the call path)", db.NumberFilter{SIPTrunkID: tr.ID}, db.Page{NoTotal: true}, []string{"+14155550102", "+442079460018"}, -1},
			{"exact, no total", db.NumberFilter{Exact: "+14155550101"}, db.Page{Limit: 1, NoTotal: true}, []string{"+14155550101"}, -1},
		} {
			p := c.p
			if p.Limit == 0 {
				p.Limit = 100
			}
			got, total, err := s.ListNumbers(ctx, org.ID, c.f, p)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			nums := []string{}
			for _, n := range got {
				nums = append(nums, n.PhoneNumber)
			}
			if !slices.Equal(nums, c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.what, nums, total, c.want, c.total)
			}
		}
		if owner, ok, err := s.NumberOwner(ctx, "+14155550199"); err != nil || !ok || owner != other.ID {
			t.Fatalf("owner %d %v %v", owner, ok, err)
		}
		if _, ok, err := s.NumberOwner(ctx, "+19999999999"); err != nil || ok {
			t.Fatalf("unknown number owned: %v %v", ok, err)
		}
		// A number belongs to one organization only.
		dup := &db.PhoneNumber{OrgID: other.ID, PhoneNumber: "+14155550100", Provider: db.ProviderTwilio}
		if err := s.SaveNumber(ctx, dup); !errors.Is(err, db.ErrConflict) {
			t.Fatalf("same number in another organization: %v", err)
		}
		// Deleting the assistant and the trunk unassigns their numbers.
		if err := s.DeleteAssistant(ctx, org.ID, asst.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTrunk(ctx, org.ID, tr.ID); err != nil {
			t.Fatal(err)
		}
		got, _, _ := s.ListNumbers(ctx, org.ID, db.NumberFilter{}, db.Page{Limit: 10})
		for _, n := range got {
			if n.AssistantID != nil || n.OutboundAssistantID != nil || n.SIPTrunkID != nil {
				t.Fatalf("%s still assigned: %v %v %v", n.PhoneNumber, n.AssistantID, n.OutboundAssistantID, n.SIPTrunkID)
			}
		}
	})
}

func TestListTrunksAndNames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		mustCreateTrunk(t, s, trunk(org.ID, "beta", func(tr *db.SIPTrunk) { tr.Priority = 2 }))
		main := mustCreateTrunk(t, s, trunk(org.ID, "Zadarma Main", nil))
		mustCreateTrunk(t, s, trunk(org.ID, "alpha", func(tr *db.SIPTrunk) { tr.Priority = 2; tr.Enabled = false }))
		mustCreateTrunk(t, s, trunk(org.ID, "Backup", func(tr *db.SIPTrunk) { tr.Priority = 2 }))
		mustCreateTrunk(t, s, trunk(other.ID, "Zadarma Main", nil))

		names := func(ts []db.SIPTrunk) []string {
			out := []string{}
			for _, tr := range ts {
				out = append(out, tr.Name)
			}
			return out
		}
		all, total, err := s.ListTrunks(ctx, org.ID, db.Page{})
		if err != nil || total != 4 {
			t.Fatalf("list: %d %v", total, err)
		}
		if got := names(all); !slices.Equal(got, []string{"Zadarma Main", "alpha", "Backup", "beta"}) {
			t.Fatalf("by priority, then name in any case: %v", got)
		}
		for _, tr := range all {
			if tr.Status == nil || tr.Status.SyncState != "pending" {
				t.Fatalf("%s: status %+v", tr.Name, tr.Status)
			}
		}
		if page, total, _ := s.ListTrunks(ctx, org.ID, db.Page{Skip: 1, Limit: 2}); total != 4 || !slices.Equal(names(page), []string{"alpha", "Backup"}) {
			t.Fatalf("page: %v %d", names(page), total)
		}
		enabled, _ := s.EnabledTrunksOfOrg(ctx, org.ID)
		if got := names(enabled); !slices.Equal(got, []string{"Zadarma Main", "Backup", "beta"}) {
			t.Fatalf("enabled trunks of the org: %v", got)
		}
		every, _ := s.EnabledTrunks(ctx)
		if len(every) != 4 {
			t.Fatalf("enabled trunks of every org: %v", names(every))
		}
		for i := 1; i < len(every); i++ {
			if every[i-1].GatewayName > every[i].GatewayName {
				t.Fatalf("not by gateway name: %s before %s", every[i-1].GatewayName, every[i].GatewayName)
			}
		}
		if got, err := s.TrunkByGatewayName(ctx, main.GatewayName); err != nil || got.ID != main.ID {
			t.Fatalf("by gateway name: %v %v", got, err)
		}
		if _, err := s.TrunkByGatewayName(ctx, "o9_none"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
		if _, err := s.GetTrunk(ctx, other.ID, main.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("another organization's trunk: %v", err)
		}

		// Names are unique per organization in any case; TrunkNameTaken
		// answers as the unique index does, so the API's 409 names the field.
		if taken, _ := s.TrunkNameTaken(ctx, org.ID, "zadarma MAIN", ""); !taken {
			t.Fatal("name taken in another case not seen")
		}
		if taken, _ := s.TrunkNameTaken(ctx, org.ID, "Zadarma Main", main.ID); taken {
			t.Fatal("a trunk's own name counted as taken")
		}
		if taken, _ := s.TrunkNameTaken(ctx, org.ID, "gamma", ""); taken {
			t.Fatal("a free name taken")
		}
		mustCreateTrunk(t, s, trunk(org.ID, "ÜBER", nil))
		for _, name := range []string{"zadarma main", "Über", "über", "ÜBER"} {
			taken, err := s.TrunkNameTaken(ctx, org.ID, name, "")
			if err != nil {
				t.Fatal(err)
			}
			err = s.CreateTrunk(ctx, trunk(org.ID, name, func(tr *db.SIPTrunk) { tr.GatewayName = "o_" + db.NewID() }))
			if conflict := errors.Is(err, db.ErrConflict); conflict != taken || (err != nil && !conflict) {
				t.Errorf("%q: TrunkNameTaken says %v, creating it: %v", name, taken, err)
			}
		}
		if taken, _ := s.GatewayNameTaken(ctx, main.GatewayName, ""); !taken {
			t.Fatal("gateway name not taken")
		}
		if taken, _ := s.GatewayNameTaken(ctx, main.GatewayName, main.ID); taken {
			t.Fatal("own gateway name counted")
		}
	})
}

func TestListAssistants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		for _, n := range []string{"Sales", "Front", "Night"} {
			a := &db.Assistant{OrgID: org.ID, Name: n, Metadata: db.JSONMap{"team": n}}
			if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{TwilioAuthToken: "tok-" + n}); err != nil {
				t.Fatal(err)
			}
		}
		s.SaveAssistant(ctx, &db.Assistant{OrgID: other.ID, Name: "Theirs"}, db.AssistantSecrets{})
		list, total, err := s.ListAssistants(ctx, org.ID, db.Page{Skip: 1, Limit: 1})
		if err != nil || total != 3 || len(list) != 1 || list[0].Name != "Night" {
			t.Fatalf("second of Front, Night, Sales: %+v total %d %v", list, total, err)
		}
		if list[0].Metadata["team"] != "Night" {
			t.Fatalf("metadata %v", list[0].Metadata)
		}
		if sec, err := s.AssistantSecrets(&list[0]); err != nil || sec.TwilioAuthToken != "tok-Night" {
			t.Fatalf("secrets %+v %v", sec, err)
		}
		a := list[0]
		a.Name = "Late"
		a.RecordingEnabled = true
		if err := s.SaveAssistant(ctx, &a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAssistant(ctx, org.ID, a.ID); got.Name != "Late" || !got.RecordingEnabled {
			t.Fatalf("after update: %+v", got)
		}
		a.OrgID = other.ID
		if err := s.SaveAssistant(ctx, &a, db.AssistantSecrets{}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("saved into another organization: %v", err)
		}
		if err := s.DeleteAssistant(ctx, other.ID, a.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("deleted by another organization: %v", err)
		}
	})
}

// An assistant's answer mode and welcome audio are stored; a new one
// answers when its stream is up (assistant_ready) and plays no file.
func TestAssistantAnswerOptions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		a := &db.Assistant{OrgID: org.ID, Name: "Front"}
		if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAssistant(ctx, org.ID, a.ID); got.AnswerMode != db.AnswerAssistantReady || got.WelcomeAudio != "" {
			t.Fatalf("new assistant: answer_mode %q, welcome_audio %q", got.AnswerMode, got.WelcomeAudio)
		}
		a.AnswerMode, a.WelcomeAudio = db.AnswerEarlyRingback, "greetings/hello.wav"
		if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAssistant(ctx, org.ID, a.ID); got.AnswerMode != db.AnswerEarlyRingback || got.WelcomeAudio != "greetings/hello.wav" {
			t.Fatalf("after update: answer_mode %q, welcome_audio %q", got.AnswerMode, got.WelcomeAudio)
		}
	})
}

// SetAssistantNumbers replaces an assistant's inbound numbers in one
// transaction, refusing another organization's number without changing
// anything; AssistantNumbers reads them back for a page of assistants.
func TestAssistantNumbers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		s := newStore(t, g)
		org, _, _ := s.EnsureOrg(ctx, "acme")
		other, _, _ := s.EnsureOrg(ctx, "other")
		a1, a2 := &db.Assistant{OrgID: org.ID, Name: "One"}, &db.Assistant{OrgID: org.ID, Name: "Two"}
		for _, a := range []*db.Assistant{a1, a2} {
			if err := s.SaveAssistant(ctx, a, db.AssistantSecrets{}); err != nil {
				t.Fatal(err)
			}
		}
		mk := func(org int64, e164 string) string {
			t.Helper()
			n := &db.PhoneNumber{OrgID: org, PhoneNumber: e164, Provider: db.ProviderTwilio, CapVoice: true, IsActive: true}
			if err := s.SaveNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
			return n.ID
		}
		n1, n2, n3 := mk(org.ID, "+14155550100"), mk(org.ID, "+14155550101"), mk(org.ID, "+14155550102")
		theirs := mk(other.ID, "+14155550199")
		numbersOf := func() map[string][]string {
			t.Helper()
			m, err := s.AssistantNumbers(ctx, org.ID, []string{a1.ID, a2.ID})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string][]string{}
			for id, ns := range m {
				for _, n := range ns {
					out[id] = append(out[id], n.PhoneNumber)
				}
			}
			return out
		}
		if err := s.SetAssistantNumbers(ctx, org.ID, a1.ID, []string{n2, n1}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAssistantNumbers(ctx, org.ID, a2.ID, []string{n3}); err != nil {
			t.Fatal(err)
		}
		got := numbersOf()
		if !slices.Equal(got[a1.ID], []string{"+14155550100", "+14155550101"}) || !slices.Equal(got[a2.ID], []string{"+14155550102"}) {
			t.Fatalf("after assigning: %v", got)
		}
		// Another organization's number: refused, nothing changes.
		if err := s.SetAssistantNumbers(ctx, org.ID, a1.ID, []string{n3, theirs}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("another organization's number: %v", err)
		}
		if again := numbersOf(); !slices.Equal(again[a1.ID], got[a1.ID]) || !slices.Equal(again[a2.ID], got[a2.ID]) {
			t.Fatalf("a refused change was kept: %v", again)
		}
		if n, _ := s.GetNumber(ctx, other.ID, theirs); n.AssistantID != nil {
			t.Fatalf("another organization's number was assigned: %+v", n)
		}
		// Taking n3 from Two, dropping n1 and n2: a replace.
		if err := s.SetAssistantNumbers(ctx, org.ID, a1.ID, []string{n3}); err != nil {
			t.Fatal(err)
		}
		got = numbersOf()
		if !slices.Equal(got[a1.ID], []string{"+14155550102"}) || len(got[a2.ID]) != 0 {
			t.Fatalf("after replacing: %v", got)
		}
		if err := s.SetAssistantNumbers(ctx, org.ID, a1.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got := numbersOf(); len(got) != 0 {
			t.Fatalf("after clearing: %v", got)
		}
	})
}
