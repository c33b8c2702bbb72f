package trunkapi

import (
	"encoding/json"
	"strconv"
	"time"
)

// appendJSON appends v as encoding/json marshals it (same field order,
// escaping and time format; trunk_json_test.go compares the two on every
// field): a list of 100 trunks through encoding/json's reflection was a
// fifth of the list route's CPU (BENCHMARKS.md, "API throughput").
func (v *trunkView) appendJSON(b []byte) []byte {
	b = appendStr(append(b, `{"id":`...), v.ID)
	b = appendStr(append(b, `,"name":`...), v.Name)
	b = appendStr(append(b, `,"gateway_name":`...), v.GatewayName)
	b = appendStr(append(b, `,"gateway":`...), v.Gateway)
	b = appendStr(append(b, `,"username":`...), v.Username)
	b = strconv.AppendBool(append(b, `,"password_set":`...), v.PasswordSet)
	b = strconv.AppendInt(append(b, `,"priority":`...), int64(v.Priority), 10)
	b = strconv.AppendBool(append(b, `,"enabled":`...), v.Enabled)
	b = strconv.AppendBool(append(b, `,"register":`...), v.Register)
	b = appendStr(append(b, `,"realm":`...), v.Realm)
	b = appendStr(append(b, `,"proxy":`...), v.Proxy)
	b = appendStr(append(b, `,"transport":`...), v.Transport)
	b = appendStr(append(b, `,"srtp":`...), v.SRTP)
	b = appendStr(append(b, `,"from_user":`...), v.FromUser)
	b = appendStr(append(b, `,"from_domain":`...), v.FromDomain)
	b = strconv.AppendBool(append(b, `,"caller_id_in_from":`...), v.CallerIDInFrom)
	b = strconv.AppendInt(append(b, `,"expire_seconds":`...), int64(v.ExpireSeconds), 10)
	b = strconv.AppendInt(append(b, `,"retry_seconds":`...), int64(v.RetrySeconds), 10)
	b = strconv.AppendInt(append(b, `,"ping_seconds":`...), int64(v.PingSeconds), 10)
	b = appendStrs(append(b, `,"allowed_addresses":`...), v.AllowedAddresses)
	b = appendStrs(append(b, `,"codecs":`...), v.Codecs)
	b = appendStr(append(b, `,"provider":`...), v.Provider)
	b = appendStr(append(b, `,"source":`...), v.Source)
	b = strconv.AppendBool(append(b, `,"inbound_enabled":`...), v.InboundEnabled)
	b = appendStr(append(b, `,"transfer_mode":`...), v.TransferMode)
	b = appendStr(append(b, `,"refer_to_template":`...), v.ReferToTemplate)
	b = strconv.AppendInt(append(b, `,"ring_timeout_seconds":`...), int64(v.RingTimeout), 10)
	b = appendStr(append(b, `,"sync_status":{"state":`...), v.SyncStatus.State)
	b = appendStr(append(b, `,"message":`...), v.SyncStatus.Message)
	b = append(b, `,"applied_at":`...)
	if v.SyncStatus.AppliedAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *v.SyncStatus.AppliedAt)
	}
	b = appendStr(append(b, `},"gateway_state":`...), v.GatewayState)
	b = appendStr(append(b, `,"ping_status":`...), v.PingStatus)
	b = strconv.AppendInt(append(b, `,"last_status_code":`...), int64(v.LastStatusCode), 10)
	b = appendTime(append(b, `,"created_at":`...), v.CreatedAt)
	b = appendTime(append(b, `,"updated_at":`...), v.UpdatedAt)
	if len(v.Nodes) > 0 {
		b = append(b, `,"nodes":[`...)
		for i, n := range v.Nodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(append(b, `{"node":`...), n.Node)
			b = appendStr(append(b, `,"gateway_state":`...), n.GatewayState)
			b = strconv.AppendInt(append(b, `,"last_status_code":`...), int64(n.LastStatusCode), 10)
			b = appendStr(append(b, `,"sync_status":{"state":`...), n.SyncStatus.State)
			b = appendStr(append(b, `,"message":`...), n.SyncStatus.Message)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendStr appends s as a JSON string: printable ASCII that needs no
// escape as is, anything else as encoding/json writes it.
func appendStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendStrs appends l as a JSON array of strings (null for nil).
func appendStrs(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, s)
	}
	return append(b, ']')
}

// timesEncodable reports whether v's times are in the years [0, 9999]
// time.Time's MarshalJSON accepts (appendJSON writes no error).
func (v *trunkView) timesEncodable() bool {
	ok := func(t time.Time) bool { y := t.Year(); return y >= 0 && y <= 9999 }
	return ok(v.CreatedAt) && ok(v.UpdatedAt) && (v.SyncStatus.AppliedAt == nil || ok(*v.SyncStatus.AppliedAt))
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds) for the years it accepts (timesEncodable).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
