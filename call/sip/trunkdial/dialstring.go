package trunkdial

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route/did"
)

// Options shape a bridge or outbound dial string.
type Options struct {
	LeadingPlus bool          // keep the + of E.164 numbers (the organization's trunk setting)
	CallerID    string        // origination_caller_id_number
	LegTimeout  time.Duration // per trunk that sets no ring_timeout_seconds
	Vars        map[string]string
}

// DialString builds one originate dial string over the trunks: the
// trunk with id first (if given and enabled), then by priority and name,
// legs joined by `|` with originate_continue_on_timeout=true so a leg that
// rings out fails over to the next.
func DialString(trunks []db.SIPTrunk, first, number string, o Options) (string, error) {
	if !did.IsE164(number) {
		return "", fmt.Errorf("%w: %q", call.ErrBadTransferTarget, number)
	}
	ordered := Order(trunks, first)
	if len(ordered) == 0 {
		return "", call.ErrNoEnabledTrunk
	}
	dialled := number
	if !o.LeadingPlus {
		dialled = strings.TrimPrefix(number, "+")
	}
	global := []string{"originate_continue_on_timeout=true", "ignore_early_media=true"}
	if cid := o.CallerID; cid != "" && safeDialValue(cid) {
		if !o.LeadingPlus {
			cid = strings.TrimPrefix(cid, "+")
		}
		global = append(global, "origination_caller_id_number="+cid)
	}
	for _, k := range sortedKeys(o.Vars) {
		if safeDialValue(k) && safeDialValue(o.Vars[k]) {
			global = append(global, k+"="+o.Vars[k])
		}
	}
	legs := make([]string, 0, len(ordered))
	longest := 0
	for _, t := range ordered {
		secs := RingSeconds(&t, o.LegTimeout)
		longest = max(longest, secs)
		legs = append(legs, fmt.Sprintf("[leg_timeout=%d,sipbridge_trunk_id=%s]sofia/gateway/%s/%s", secs, t.ID, t.GatewayName, dialled))
	}
	// originate_timeout (default 60 s) times each `|` group out with
	// NO_ANSWER whatever its leg_timeout: keep it above the longest ring.
	global = append(global, "originate_timeout="+strconv.Itoa(longest+1))
	return "{" + strings.Join(global, ",") + "}" + strings.Join(legs, "|"), nil
}

// RingSeconds is how long a trunk's leg rings before the next trunk is
// tried: the trunk's ring_timeout_seconds, else the platform's LEG_TIMEOUT
// (leg), else 30 s.
func RingSeconds(t *db.SIPTrunk, leg time.Duration) int {
	if t.RingTimeoutSeconds > 0 {
		return t.RingTimeoutSeconds
	}
	if secs := int(leg / time.Second); secs > 0 {
		return secs
	}
	return 30
}

// Order returns the enabled trunks, first's trunk at the head, then by
// priority (1 first) and name.
func Order(trunks []db.SIPTrunk, first string) []db.SIPTrunk {
	var head, rest []db.SIPTrunk
	for _, t := range trunks {
		if !t.Enabled {
			continue
		}
		if t.ID == first {
			head = append(head, t)
		} else {
			rest = append(rest, t)
		}
	}
	sortTrunks(rest)
	return append(head, rest...)
}

// safeDialValue keeps values that cannot break a dial string.
func safeDialValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, ",|{}[] \t\r\n'\"^")
}

func sortTrunks(ts []db.SIPTrunk) {
	slices.SortStableFunc(ts, func(a, b db.SIPTrunk) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxDialTime bounds an originate: every leg's leg_timeout (leg for a leg
// without one) plus margin.
func MaxDialTime(dial string, leg time.Duration) time.Duration {
	total := 15 * time.Second
	for _, l := range strings.Split(dial, "|") {
		d := leg
		if _, v, ok := strings.Cut(l, "leg_timeout="); ok {
			v, _, _ = strings.Cut(v, ",")
			v, _, _ = strings.Cut(v, "]")
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				d = time.Duration(n) * time.Second
			}
		}
		total += d
	}
	return total
}
