package provider

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"empty keeps defaults", nil, Config{}, ""},
		{"all set", map[string]string{
			EnvTwilioBaseURL: "http://127.0.0.1:9001", EnvTelnyxBaseURL: "http://127.0.0.1:9002/v2",
			EnvVonageAPIBaseURL: "http://fake:9003", EnvVonageRESTBaseURL: "https://rest.fake", EnvTimeout: "7s"},
			Config{TwilioBaseURL: "http://127.0.0.1:9001", TelnyxBaseURL: "http://127.0.0.1:9002/v2",
				VonageAPIBaseURL: "http://fake:9003", VonageRESTBaseURL: "https://rest.fake", Timeout: 7 * time.Second}, ""},
		{"relative URL", map[string]string{EnvTelnyxBaseURL: "/v2"}, Config{}, EnvTelnyxBaseURL},
		{"query in URL", map[string]string{EnvTwilioBaseURL: "http://x?a=1"}, Config{}, EnvTwilioBaseURL},
		{"ftp URL", map[string]string{EnvVonageRESTBaseURL: "ftp://x"}, Config{}, EnvVonageRESTBaseURL},
		{"bad timeout", map[string]string{EnvTimeout: "10"}, Config{}, EnvTimeout},
		{"negative timeout", map[string]string{EnvTimeout: "-1s"}, Config{}, EnvTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TwilioBaseURL != tc.want.TwilioBaseURL || got.TelnyxBaseURL != tc.want.TelnyxBaseURL ||
				got.VonageAPIBaseURL != tc.want.VonageAPIBaseURL || got.VonageRESTBaseURL != tc.want.VonageRESTBaseURL || got.Timeout != tc.want.Timeout {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	d := Config{}.WithDefaults()
	if d.TelnyxBaseURL != "https://api.telnyx.com/v2" || d.VonageAPIBaseURL != "https://api.nexmo.com" ||
		d.VonageRESTBaseURL != "https://rest.nexmo.com" || d.TwilioBaseURL != "https://api.twilio.com" || d.Retry.MaxAttempts != 3 {
		t.Errorf("defaults = %+v", d)
	}
}
