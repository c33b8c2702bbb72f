package xmlcurl_test

import (
	"net/url"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
)

// FuzzParseRequest: any body parses or is refused without a panic, and
// what parses reads back the same once encoded again.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("section=configuration&tag_name=configuration&key_name=name&key_value=sofia.conf&profile=external&hostname=node1\n"))
	f.Add([]byte("hostname=vm&section=configuration&tag_name=configuration&key_name=name&key_value=sofia.conf&Event-Name=REQUEST_PARAMS&" +
		"FreeSWITCH-IPv6=fd00%3A%3A2&Event-Date-GMT=Thu,%2003%20Dec%202026%2006%3A52%3A41%20GMT&profile=external&reconfig=true"))
	f.Add([]byte("section=configuration&key_value=acl.conf&Event-Name=REQUEST_PARAMS&Core-UUID=1%202"))
	f.Add([]byte("section=&key_value=%zz"))
	f.Add([]byte("key_value=sofia.conf;section=configuration"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := xmlcurl.ParseRequest(body)
		if err != nil {
			return
		}
		if r.Section == "" {
			t.Fatal("parsed without a section")
		}
		again := url.Values{"section": {r.Section}, "tag_name": {r.TagName}, "key_name": {r.KeyName}, "key_value": {r.KeyValue},
			"profile": {r.Profile}, "hostname": {r.Hostname}}
		r2, err := xmlcurl.ParseRequest([]byte(again.Encode()))
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v → %+v (%v)", r, r2, err)
		}
	})
}
