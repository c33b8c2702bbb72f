package provider

import (
	"fmt"
	"testing"
)

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

func TestResolveVoiceTable(t *testing.T) {
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
			p, l, ok := ResolveVoice(tc.levels...)
			if p != tc.prov || l != tc.level || ok != tc.ok {
				t.Errorf("ResolveVoice = (%q, %q, %v), want (%q, %q, %v)", p, l, ok, tc.prov, tc.level, tc.ok)
			}
		})
	}
}

// TestResolveVoiceEveryCombination walks every combination of missing,
// incomplete and complete credentials for the three providers at the three
// levels (3^9 cases) and checks the documented rule: the first level with
// any complete voice credentials wins, Telnyx then Twilio then Vonage.
func TestResolveVoiceEveryCombination(t *testing.T) {
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
		p, l, ok := ResolveVoice(levels...)
		if p != wantProv || l != wantLevel || ok != (wantLevel != "") {
			t.Fatalf("combination %d: ResolveVoice = (%q, %q, %v), want (%q, %q)", combo, p, l, ok, wantProv, wantLevel)
		}
		total++
	}
	if total != 19683 {
		t.Fatalf("walked %d combinations", total)
	}
}

func TestResolveSMSEveryCombination(t *testing.T) {
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
					creds, level, ok := ResolveSMS(prov, org, env)
					wantLevel := ""
					switch {
					case prov == NameSIP || prov == "unknown":
					case o == complete:
						wantLevel = LevelOrganization
					case e == complete:
						wantLevel = LevelEnvironment
					}
					if level != wantLevel || ok != (wantLevel != "") {
						t.Fatalf("ResolveSMS = (%+v, %q, %v), want level %q", creds, level, ok, wantLevel)
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
