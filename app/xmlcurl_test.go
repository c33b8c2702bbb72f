package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// serveXMLCurl runs the bridge on the switch simulator with /fs/xml
// configured as given (nil: off) and returns its base URL.
func serveXMLCurl(t *testing.T, g *gorm.DB, o *xmlcurl.Options) string {
	t.Helper()
	store := db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler))
	genDir := t.TempDir()
	sw := fstest.New(fstest.Options{GenDir: genDir, Step: 5 * time.Millisecond})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	a, err := app.New(context.Background(), app.Config{Store: store, RecordingsDir: t.TempDir(),
		Switch:       &app.Switch{Addr: sw.Addr(), Password: "ClueCon", GenDir: genDir, XMLCurl: o},
		SyncInterval: time.Hour, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx, ln, make(chan os.Signal)) }()
	t.Cleanup(func() { cancel(); <-ran })
	return "http://" + ln.Addr().String()
}

func postConfig(t *testing.T, base, key string) (int, string) {
	t.Helper()
	form := url.Values{"section": {"configuration"}, "tag_name": {"configuration"}, "key_name": {"name"}, "key_value": {key}}
	req, _ := http.NewRequest(http.MethodPost, base+"/fs/xml", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("fs", "node-pw")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// /fs/xml is off (404) unless configured; configured, it serves the
// profile the reconciler's first pass wrote.
func TestXMLCurlRoute(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		off := serveXMLCurl(t, g, nil)
		if st, body := postConfig(t, off, "sofia.conf"); st != http.StatusNotFound {
			t.Errorf("not configured: %d %s, want 404", st, body)
		}
		on := serveXMLCurl(t, g, &xmlcurl.Options{User: "fs", Password: "node-pw"})
		var body string
		if !testkit.Until(5*time.Second, func() bool {
			var st int
			st, body = postConfig(t, on, "sofia.conf")
			return st == 200 && strings.Contains(body, `<profile name="external">`)
		}) {
			t.Fatalf("configured: no profile served: %s", body)
		}
	})
}
