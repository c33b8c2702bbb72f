package switchapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/switchapi"
)

func get(t *testing.T, token, auth string) (int, string) {
	t.Helper()
	core := httpapi.New(httpapi.Options{})
	switchapi.Register(core, switchapi.Deps{Token: token, Nodes: func() []switchapi.Node {
		return []switchapi.Node{{Name: "fs1", ESLAddress: "10.0.0.11:8021", Connected: true, Gateways: 2, GatewaysByState: map[string]int{"REGED": 2}}}
	}})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/switch/nodes", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	core.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// The nodes route answers the operator token only: 401 for anything else
// (an organization's key, none, a wrong one), and to every request while
// no token is set.
func TestNodesRouteIsTheOperators(t *testing.T) {
	for _, auth := range []string{"", "Bearer anything", "Bearer "} {
		if code, body := get(t, "", auth); code != http.StatusUnauthorized || !strings.Contains(body, "OPERATOR_TOKEN is not set") {
			t.Errorf("no token set, %q: %d %s, want 401 saying OPERATOR_TOKEN is not set", auth, code, body)
		}
	}
	for _, auth := range []string{"", "Bearer sb_orgkey", "Bearer op-tokenX", "Basic op-token", "op-token"} {
		if code, body := get(t, "op-token", auth); code != http.StatusUnauthorized || !strings.Contains(body, "operator token") {
			t.Errorf("%q: %d %s, want 401", auth, code, body)
		}
	}
	code, body := get(t, "op-token", "Bearer op-token")
	if code != http.StatusOK || !strings.Contains(body, `"name":"fs1"`) || !strings.Contains(body, `"gateways_by_state":{"REGED":2}`) {
		t.Errorf("operator: %d %s", code, body)
	}
}
