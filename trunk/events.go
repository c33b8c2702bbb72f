package trunk

import (
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// GatewayEventSubclasses are the CUSTOM events the trunk reconciler follows.
var GatewayEventSubclasses = []string{"sofia::gateway_state", "sofia::gateway_add", "sofia::gateway_delete"}

// GatewayEventFrom reads a sofia gateway event (fields as recorded in
// gateway-lifecycle.jsonl: Gateway, State, Ping-Status, Status, profile-name).
func GatewayEventFrom(e *esl.Event) (GatewayEvent, bool) {
	sub := e.Subclass()
	if !strings.HasPrefix(sub, "sofia::gateway_") {
		return GatewayEvent{}, false
	}
	ev := GatewayEvent{
		Subclass:   sub,
		Gateway:    e.Get("Gateway"),
		Profile:    e.Get("profile-name"),
		State:      e.Get("State"),
		PingStatus: e.Get("Ping-Status"),
	}
	if n, err := strconv.Atoi(e.Get("Status")); err == nil {
		ev.Status = n
	}
	return ev, ev.Gateway != ""
}
