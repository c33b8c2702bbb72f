package creds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/provider"
)

type (
	Credentials = provider.Credentials
	TwilioCreds = provider.TwilioCreds
	TelnyxCreds = provider.TelnyxCreds
	VonageCreds = provider.VonageCreds
)

const (
	NameTwilio = provider.NameTwilio
	NameTelnyx = provider.NameTelnyx
	NameVonage = provider.NameVonage
	NameSIP    = provider.NameSIP
)

var ErrInvalidCredentials = provider.ErrInvalidCredentials

var (
	twilioOK   = &TwilioCreds{AccountSID: "AC1", AuthToken: "tok"}
	twilioHalf = &TwilioCreds{AccountSID: "AC1"}
	telnyxOK   = &TelnyxCreds{APIKey: "KEY", ConnectionID: "conn"}
	telnyxKey  = &TelnyxCreds{APIKey: "KEY"} // enough for SMS, not for voice
	telnyxHalf = &TelnyxCreds{ConnectionID: "conn"}
	vonageOK   = &VonageCreds{APIKey: "k", APISecret: "s", ApplicationID: "app", PrivateKey: "pem"}
	vonageSMS  = &VonageCreds{APIKey: "k", APISecret: "s"}             // SMS only
	vonageApp  = &VonageCreds{ApplicationID: "app", PrivateKey: "pem"} // voice only
	vonageHalf = &VonageCreds{APIKey: "k", ApplicationID: "app"}
)

func TestPickVoiceTable(t *testing.T) {
	asst := func(c Credentials) Level { return Level{LevelAssistant, c} }
	org := func(c Credentials) Level { return Level{LevelOrganization, c} }
	env := func(c Credentials) Level { return Level{LevelEnvironment, c} }
	cases := []struct {
		name        string
		levels      []Level
		prov, level string
		ok          bool
	}{
		{"nothing anywhere", []Level{asst(Credentials{}), org(Credentials{}), env(Credentials{})}, "", "", false},
		{"no levels", nil, "", "", false},
		{"env twilio", []Level{asst(Credentials{}), org(Credentials{}), env(Credentials{Twilio: twilioOK})}, NameTwilio, LevelEnvironment, true},
		{"org beats env", []Level{org(Credentials{Twilio: twilioOK}), env(Credentials{Telnyx: telnyxOK})}, NameTwilio, LevelOrganization, true},
		{"assistant beats org", []Level{asst(Credentials{Vonage: vonageOK}), org(Credentials{Telnyx: telnyxOK})}, NameVonage, LevelAssistant, true},
		{"telnyx before twilio in a level", []Level{org(Credentials{Twilio: twilioOK, Telnyx: telnyxOK})}, NameTelnyx, LevelOrganization, true},
		{"twilio before vonage in a level", []Level{org(Credentials{Twilio: twilioOK, Vonage: vonageOK})}, NameTwilio, LevelOrganization, true},
		{"all three: telnyx", []Level{env(Credentials{Twilio: twilioOK, Telnyx: telnyxOK, Vonage: vonageOK})}, NameTelnyx, LevelEnvironment, true},
		{"incomplete telnyx falls to twilio", []Level{org(Credentials{Telnyx: telnyxKey, Twilio: twilioOK})}, NameTwilio, LevelOrganization, true},
		{"incomplete assistant skipped", []Level{asst(Credentials{Telnyx: telnyxHalf, Twilio: twilioHalf, Vonage: vonageHalf}), org(Credentials{Vonage: vonageApp})}, NameVonage, LevelOrganization, true},
		{"vonage SMS-only creds are not voice", []Level{org(Credentials{Vonage: vonageSMS}), env(Credentials{Twilio: twilioOK})}, NameTwilio, LevelEnvironment, true},
		{"blank strings are missing", []Level{org(Credentials{Twilio: &TwilioCreds{AccountSID: " ", AuthToken: " "}})}, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, l, ok := PickVoice(tc.levels)
			if p != tc.prov || l != tc.level || ok != tc.ok {
				t.Errorf("PickVoice = (%q, %q, %v), want (%q, %q, %v)", p, l, ok, tc.prov, tc.level, tc.ok)
			}
		})
	}
}

// TestPickVoiceEveryCombination walks every combination of missing,
// incomplete and complete credentials for the three providers at the three
// levels (3^9 cases) and checks the documented rule: the first level with
// any complete voice credentials wins, Telnyx then Twilio then Vonage.
func TestPickVoiceEveryCombination(t *testing.T) {
	twilio := []*TwilioCreds{nil, twilioHalf, twilioOK}
	telnyx := []*TelnyxCreds{nil, telnyxKey, telnyxOK}
	vonage := []*VonageCreds{nil, vonageSMS, vonageOK}
	names := []string{LevelAssistant, LevelOrganization, LevelEnvironment}
	total := 0
	for combo := range 19683 { // 3^9
		var levels []Level
		c := combo
		wantProv, wantLevel := "", ""
		for _, name := range names {
			tw, tx, vo := c%3, (c/3)%3, (c/9)%3
			c /= 27
			levels = append(levels, Level{name, Credentials{Twilio: twilio[tw], Telnyx: telnyx[tx], Vonage: vonage[vo]}})
			if wantLevel != "" {
				continue
			}
			switch {
			case tx == 2:
				wantProv, wantLevel = NameTelnyx, name
			case tw == 2:
				wantProv, wantLevel = NameTwilio, name
			case vo == 2:
				wantProv, wantLevel = NameVonage, name
			}
		}
		p, l, ok := PickVoice(levels)
		if p != wantProv || l != wantLevel || ok != (wantLevel != "") {
			t.Fatalf("combination %d: PickVoice = (%q, %q, %v), want (%q, %q)", combo, p, l, ok, wantProv, wantLevel)
		}
		total++
	}
	if total != 19683 {
		t.Fatalf("walked %d combinations", total)
	}
}

func TestPickMessagingEveryCombination(t *testing.T) {
	type state int
	const (
		none state = iota
		incomplete
		complete
	)
	build := func(prov string, s state) Credentials {
		switch {
		case s == none:
			return Credentials{}
		case prov == NameTwilio && s == incomplete:
			return Credentials{Twilio: twilioHalf, Telnyx: telnyxKey, Vonage: vonageSMS} // other providers' creds must not count
		case prov == NameTwilio:
			return Credentials{Twilio: twilioOK}
		case prov == NameTelnyx && s == incomplete:
			return Credentials{Telnyx: telnyxHalf, Twilio: twilioOK}
		case prov == NameTelnyx:
			return Credentials{Telnyx: telnyxKey} // an API key is enough to send
		case prov == NameVonage && s == incomplete:
			return Credentials{Vonage: vonageApp, Twilio: twilioOK} // no key/secret
		case prov == NameVonage:
			return Credentials{Vonage: vonageSMS}
		default:
			return Credentials{Twilio: twilioOK, Telnyx: telnyxOK, Vonage: vonageOK}
		}
	}
	for _, prov := range []string{NameTwilio, NameTelnyx, NameVonage, NameSIP, "unknown"} {
		for _, o := range []state{none, incomplete, complete} {
			for _, e := range []state{none, incomplete, complete} {
				t.Run(fmt.Sprintf("%s/org=%d/env=%d", prov, o, e), func(t *testing.T) {
					org, env := build(prov, o), build(prov, e)
					creds, level, ok := Pick([]Level{{LevelOrganization, org}, {LevelEnvironment, env}}, prov, Messaging)
					wantLevel := ""
					switch {
					case prov == NameSIP || prov == "unknown":
					case o == complete:
						wantLevel = LevelOrganization
					case e == complete:
						wantLevel = LevelEnvironment
					}
					if level != wantLevel || ok != (wantLevel != "") {
						t.Fatalf("Pick = (%+v, %q, %v), want level %q", creds, level, ok, wantLevel)
					}
					if !ok {
						if creds != (Credentials{}) {
							t.Errorf("creds = %+v on failure", creds)
						}
						return
					}
					src := org
					if wantLevel == LevelEnvironment {
						src = env
					}
					want := Credentials{}
					switch prov {
					case NameTwilio:
						want.Twilio = src.Twilio
					case NameTelnyx:
						want.Telnyx = src.Telnyx
					case NameVonage:
						want.Vonage = src.Vonage
					}
					if creds != want {
						t.Errorf("creds = %+v, want only the %s credentials of %s", creds, prov, wantLevel)
					}
				})
			}
		}
	}
}

// TestPickForCallEveryCombination walks missing, incomplete and complete
// credentials of the named provider at the three levels, with complete
// credentials of another provider around (which must not count), and checks
// the traffic rule: the first level where they are complete.
func TestPickForCallEveryCombination(t *testing.T) {
	full := map[string]Credentials{NameTwilio: {Twilio: twilioOK}, NameTelnyx: {Telnyx: telnyxOK}, NameVonage: {Vonage: vonageApp}}
	half := map[string]Credentials{NameTwilio: {Twilio: twilioHalf, Telnyx: telnyxOK}, NameTelnyx: {Telnyx: telnyxKey, Twilio: twilioOK},
		NameVonage: {Vonage: vonageSMS, Twilio: twilioOK}}
	names := []string{LevelAssistant, LevelOrganization, LevelEnvironment}
	for _, prov := range []string{NameTwilio, NameTelnyx, NameVonage} {
		for combo := range 27 {
			var levels []Level
			want := ""
			for i, c := 0, combo; i < 3; i, c = i+1, c/3 {
				var lc Credentials
				switch c % 3 {
				case 1:
					lc = half[prov]
				case 2:
					lc = full[prov]
					if want == "" {
						want = names[i]
					}
				}
				levels = append(levels, Level{names[i], lc})
			}
			got, level, ok := Pick(levels, prov, Voice)
			if level != want || ok != (want != "") {
				t.Fatalf("%s combination %d: Pick = (%+v, %q, %v), want level %q", prov, combo, got, level, ok, want)
			}
			if ok && got != full[prov] {
				t.Errorf("%s combination %d: creds = %+v, want only the complete %s ones", prov, combo, got, prov)
			}
		}
	}
}

// TestResolvedProviderIsWhatCallsUse: for every combination of the voice
// table, when PickVoice names provider X at level L, a call on an X number
// (Pick for voice) uses exactly level L's credentials.
func TestResolvedProviderIsWhatCallsUse(t *testing.T) {
	twilio := []*TwilioCreds{nil, twilioHalf, twilioOK}
	telnyx := []*TelnyxCreds{nil, telnyxKey, telnyxOK}
	vonage := []*VonageCreds{nil, vonageSMS, vonageOK}
	names := []string{LevelAssistant, LevelOrganization, LevelEnvironment}
	for combo := range 19683 {
		var levels []Level
		for i, c := 0, combo; i < 3; i, c = i+1, c/27 {
			levels = append(levels, Level{names[i], Credentials{Twilio: twilio[c%3], Telnyx: telnyx[(c/3)%3], Vonage: vonage[(c/9)%3]}})
		}
		prov, level, ok := PickVoice(levels)
		if !ok {
			continue
		}
		_, used, ok := Pick(levels, prov, Voice)
		if !ok || used != level {
			t.Fatalf("combination %d: resolved_provider says %s at %s, a call uses %q (ok %v)", combo, prov, level, used, ok)
		}
	}
}

type fakeStore struct {
	org     db.Organization
	orgSec  db.OrgSecrets
	asstSec map[string]db.AssistantSecrets
}

func (f *fakeStore) GetOrg(_ context.Context, id int64) (*db.Organization, error) {
	if id != f.org.ID {
		return nil, db.ErrNotFound
	}
	o := f.org
	return &o, nil
}
func (f *fakeStore) OrgSecrets(*db.Organization) (db.OrgSecrets, error) { return f.orgSec, nil }
func (f *fakeStore) AssistantSecrets(a *db.Assistant) (db.AssistantSecrets, error) {
	return f.asstSec[a.ID], nil
}

// TestResolverLevels: the resolver assembles each level from the store
// (settings and sealed secrets) and the environment, and answers voice,
// traffic and webhook keys by the one rule, for every level.
func TestResolverLevels(t *testing.T) {
	env := Credentials{Twilio: &TwilioCreds{AccountSID: "ACenv", AuthToken: "envtok"},
		Telnyx: &TelnyxCreds{APIKey: "envkey", ConnectionID: "envconn", PublicKey: "envpub"},
		Vonage: &VonageCreds{APIKey: "vk", APISecret: "vs", ApplicationID: "app", PrivateKey: "pem", SignatureSecret: "envsig"}}
	orgTwilio := db.Organization{ID: 7}
	orgTwilio.Settings.TwilioAccountSID = "ACorg"
	asstCfg := db.Assistant{ID: "a1", OrgID: 7}
	asstCfg.Config.TwilioAccountSID = "ACasst"
	bare := db.Assistant{ID: "a2", OrgID: 7}
	cases := []struct {
		name              string
		org               db.Organization
		orgSec            db.OrgSecrets
		asst              *db.Assistant
		asstSec           db.AssistantSecrets
		wantSID, wantLvl  string
		wantVoice         string // resolved_provider level
		wantKey, wantKLvl string
	}{
		{"assistant", orgTwilio, db.OrgSecrets{TwilioAuthToken: "orgtok"}, &asstCfg, db.AssistantSecrets{TwilioAuthToken: "asttok"},
			"ACasst", LevelAssistant, LevelAssistant, "asttok", LevelAssistant},
		{"organization", orgTwilio, db.OrgSecrets{TwilioAuthToken: "orgtok"}, &bare, db.AssistantSecrets{},
			"ACorg", LevelOrganization, LevelOrganization, "orgtok", LevelOrganization},
		{"environment", db.Organization{ID: 7}, db.OrgSecrets{}, &bare, db.AssistantSecrets{},
			"ACenv", LevelEnvironment, LevelEnvironment, "envtok", LevelEnvironment},
		{"incomplete assistant falls to the organization", orgTwilio, db.OrgSecrets{TwilioAuthToken: "orgtok"}, &asstCfg, db.AssistantSecrets{},
			"ACorg", LevelOrganization, LevelOrganization, "orgtok", LevelOrganization},
		{"no assistant", orgTwilio, db.OrgSecrets{TwilioAuthToken: "orgtok"}, nil, db.AssistantSecrets{},
			"ACorg", LevelOrganization, "", "orgtok", LevelOrganization},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStore{org: tc.org, orgSec: tc.orgSec, asstSec: map[string]db.AssistantSecrets{}}
			if tc.asst != nil {
				st.asstSec[tc.asst.ID] = tc.asstSec
			}
			r := New(st, env)
			org, _ := st.GetOrg(context.Background(), 7)
			c, lvl, err := r.For(org, tc.asst, NameTwilio, Voice)
			if err != nil || lvl != tc.wantLvl || c.Twilio == nil || c.Twilio.AccountSID != tc.wantSID || c.Telnyx != nil || c.Vonage != nil {
				t.Fatalf("For = (%+v, %q, %v), want %s at %s", c, lvl, err, tc.wantSID, tc.wantLvl)
			}
			key, klvl, err := r.WebhookKey(org, tc.asst, NameTwilio)
			if err != nil || key != tc.wantKey || klvl != tc.wantKLvl {
				t.Errorf("WebhookKey = (%q, %q, %v), want (%q, %q)", key, klvl, err, tc.wantKey, tc.wantKLvl)
			}
			if tc.asst == nil {
				return
			}
			// With only Twilio at the assistant and organization, the
			// environment's Telnyx wins resolved_provider there (Telnyx
			// first within a level): drop it to test the Twilio levels.
			r = New(st, Credentials{Twilio: env.Twilio})
			prov, vl, ok, err := r.Voice(context.Background(), tc.asst)
			if err != nil || !ok || prov != NameTwilio || vl != tc.wantVoice {
				t.Errorf("Voice = (%q, %q, %v, %v), want twilio at %s", prov, vl, ok, err, tc.wantVoice)
			}
		})
	}
	// Nothing complete anywhere: an ErrInvalidCredentials naming the levels.
	r := New(&fakeStore{org: db.Organization{ID: 7}}, Credentials{})
	org := &db.Organization{ID: 7}
	if _, _, err := r.For(org, &bare, NameVonage, Messaging); !errors.Is(err, ErrInvalidCredentials) ||
		err.Error() == "" || !strings.Contains(err.Error(), "assistant, organization or environment") {
		t.Errorf("For with nothing = %v, want ErrInvalidCredentials naming the levels", err)
	}
	if key, lvl, err := r.WebhookKey(nil, nil, NameTelnyx); key != "" || lvl != "" || err != nil {
		t.Errorf("WebhookKey without anything = (%q, %q, %v)", key, lvl, err)
	}
}
