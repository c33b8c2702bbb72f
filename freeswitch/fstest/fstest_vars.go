package fstest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
)

// Channel variables.

func (s *Switch) setVar(ch *channel, name string, value *string) {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	if value == nil {
		delete(ch.vars, "variable_"+name)
		return
	}
	ch.vars["variable_"+name] = *value
}

func (s *Switch) getVar(ch *channel, name string) (string, bool) {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	v, ok := ch.vars["variable_"+name]
	if !ok {
		return "", false
	}
	if str, ok := v.(string); ok {
		return str, true
	}
	if arr, ok := v.([]any); ok && len(arr) > 0 {
		return fmt.Sprint(arr[0]), true
	}
	return fmt.Sprint(v), true
}

// varTrue is switch_true on a channel variable.
func (s *Switch) varTrue(ch *channel, name string) bool {
	v, _ := s.getVar(ch, name)
	return switchTrue(v)
}

// switchTrue is FreeSWITCH's switch_true: yes, on, true, t, enabled,
// active, allow, or a non-zero number.
func switchTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "on", "true", "t", "enabled", "active", "allow":
		return true
	}
	n, err := strconv.Atoi(v)
	return err == nil && n != 0
}

// apiSetvar is `uuid_setvar <uuid> <var> [value]` (mod_commands.c
// uuid_setvar_function): "+OK\n" as recorded (audio-stream-mono-8k); no
// value unsets the variable.
func (s *Switch) apiSetvar(_ *batch, args string) string {
	argv := dialstring.SeparateBlank(args, 3)
	if (len(argv) != 2 && len(argv) != 3) || argv[0] == "" {
		return "-USAGE: <uuid> <var> [value]\n"
	}
	ch, ok := s.channel(argv[0])
	if !ok {
		return "-ERR No such channel!\n"
	}
	if argv[1] == "" {
		return "-ERR No variable specified\n"
	}
	var val *string
	if len(argv) == 3 {
		val = &argv[2]
	}
	s.setVar(ch, argv[1], val)
	return "+OK\n"
}

// apiGetvar is `uuid_getvar <uuid> <var>`: the value without a newline,
// "_undef_" when unset (mod_commands.c uuid_getvar_function).
func (s *Switch) apiGetvar(_ *batch, args string) string {
	argv := dialstring.SeparateBlank(args, 4)
	if len(argv) < 2 || argv[0] == "" {
		return "-USAGE: <uuid> <var>\n"
	}
	ch, ok := s.channel(argv[0])
	if !ok {
		return "-ERR No such channel!\n"
	}
	if argv[1] == "" {
		return "-ERR No variable name specified!\n"
	}
	v, ok := s.getVar(ch, argv[1])
	if !ok {
		return "_undef_"
	}
	return v
}
