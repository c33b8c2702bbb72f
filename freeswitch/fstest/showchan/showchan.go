// Package showchan renders `show channels as json` as FreeSWITCH 1.11.1
// answers it (seen on the real switch, e2e restart_adopt): no channel is
// `{"row_count": 0}` and a newline; otherwise one compact object, no
// newline, with row_count and the rows, each row the columns of the
// channels table in the switch's order, every value a string.
package showchan

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Columns are the columns of a row, in the switch's order.
var Columns = []string{"uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
	"ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate",
	"read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id",
	"presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid",
	"sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr",
	"initial_dest", "initial_dialplan", "initial_context"}

// Row is one channel by column name; a column it lacks is "".
type Row map[string]string

// JSON is the answer for rows.
func JSON(rows []Row) string {
	if len(rows) == 0 {
		return "{\"row_count\": 0}\n"
	}
	var b strings.Builder
	b.WriteString(`{"row_count":` + strconv.Itoa(len(rows)) + `,"rows":[`)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, col := range Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			v, _ := json.Marshal(r[col])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.String()
}
