// Package testkit holds the helpers tests across the module share: one
// poll-until (Eventually, Until), one golden-file comparison (Golden, with
// -update to rewrite), one log sink a test reads while others write
// (LogBuffer); the one tone generator and detector is
// internal/tone. It is imported by tests only.
package testkit
