// Package adopt decides what a starting sipbridge does with the calls a
// previous process left open: the switch's live channels (`show channels
// as json`, each one's sipbridge_call_id and sipbridge_leg) are matched
// to the open SIP call records, and each record gets one Action.
//
// A record is tied to its channel by the sipbridge_call_id channel
// variable (set on an inbound channel when the call is routed, carried by
// an outbound call's legs from the originate), the caller's channel being
// the one without sipbridge_leg whose UUID is the record's call_sid.
package adopt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Channel is one live channel of the switch.
type Channel struct {
	UUID        string `json:"uuid"`
	Direction   string `json:"direction"`
	CallState   string `json:"callstate"` // DOWN, DIALING, RINGING, EARLY, ACTIVE, HELD, …
	Application string `json:"application"`
	// CallID and Leg are the channel's sipbridge_call_id and
	// sipbridge_leg ("" when unset).
	CallID string `json:"-"`
	Leg    string `json:"-"`
}

// Answered: the channel is up (answered, possibly on hold).
func (c Channel) Answered() bool {
	switch c.CallState {
	case "ACTIVE", "HELD", "UNHELD":
		return true
	}
	return false
}

// ParseChannels reads the answer of `show channels as json`: FreeSWITCH
// 1.11 answers {"row_count": 0} without rows, else
// {"row_count":N,"rows":[{"uuid":…,"direction":…,"callstate":…,…}]}.
func ParseChannels(body string) ([]Channel, error) {
	body = strings.TrimSpace(body)
	if strings.HasPrefix(body, "-ERR") {
		return nil, fmt.Errorf("show channels: %s", body)
	}
	var out struct {
		RowCount int       `json:"row_count"`
		Rows     []Channel `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		return nil, fmt.Errorf("show channels: %w", err)
	}
	if len(out.Rows) != out.RowCount {
		return nil, fmt.Errorf("show channels: row_count %d, %d rows", out.RowCount, len(out.Rows))
	}
	for _, c := range out.Rows {
		if c.UUID == "" {
			return nil, fmt.Errorf("show channels: a row without a uuid")
		}
	}
	return out.Rows, nil
}

// API is the switch's api command.
type API interface {
	API(ctx context.Context, cmd string) (string, error)
}

// List returns the switch's live channels, leaving out those skip names
// (channels this process already follows), each with its sipbridge
// variables.
func List(ctx context.Context, api API, skip func(uuid string) bool) ([]Channel, error) {
	out, err := api.API(ctx, "show channels as json")
	if err != nil {
		return nil, fmt.Errorf("show channels: %w", err)
	}
	all, err := ParseChannels(out)
	if err != nil {
		return nil, err
	}
	chans := all[:0]
	for _, ch := range all {
		if skip != nil && skip(ch.UUID) {
			continue
		}
		if ch.CallID, err = getvar(ctx, api, ch.UUID, "sipbridge_call_id"); err != nil {
			continue // gone meanwhile
		}
		if ch.CallID != "" {
			if ch.Leg, err = getvar(ctx, api, ch.UUID, "sipbridge_leg"); err != nil {
				continue
			}
		}
		chans = append(chans, ch)
	}
	return chans, nil
}

// getvar is uuid_getvar: "" for a variable that is not set (_undef_).
func getvar(ctx context.Context, api API, uuid, name string) (string, error) {
	out, err := api.API(ctx, "uuid_getvar "+uuid+" "+name)
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(out); v != "_undef_" {
		return v, nil
	}
	return "", nil
}
