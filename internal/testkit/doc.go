// Package testkit holds the helpers tests across the module share: one
// poll-until (Eventually, Until), one golden-file comparison (Golden, with
// -update to rewrite) and, in testkit/tone, one tone generator and
// detector. It is imported by tests only.
package testkit
