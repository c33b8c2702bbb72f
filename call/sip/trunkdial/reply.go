package trunkdial

import (
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// Reply reads an originate's reply out (trimmed) and its error: leg is
// what follows "+OK " (out itself without one, as strings.CutPrefix);
// final is the cause after "-ERR"; cause is final, else err's text;
// answered when a leg answered and nothing failed.
func Reply(out string, err error) (leg, final, cause string, answered bool) {
	leg, ok := strings.CutPrefix(out, "+OK ")
	final = strings.TrimSpace(strings.TrimPrefix(out, "-ERR"))
	cause = final
	if cause == "" && err != nil {
		cause = err.Error()
	}
	return leg, final, cause, err == nil && ok && leg != ""
}

// Detail adds the trunk that answered (nil: none known) to a timeline
// entry's detail: trunk_id, trunk, gateway.
func Detail(detail db.JSONMap, t *db.SIPTrunk) db.JSONMap {
	if t != nil {
		detail["trunk_id"], detail["trunk"], detail["gateway"] = t.ID, t.Name, t.GatewayName
	}
	return detail
}
