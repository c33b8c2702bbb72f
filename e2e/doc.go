// Package e2e is sipbridge's end-to-end suite against the real FreeSWITCH
// 1.11.1 with mod_audio_stream (../shared/freeswitch, or SIPBRIDGE_FS_DIR)
// and sipp peers (Debian's sip-tester): one FreeSWITCH per `go test` run on
// ports of its own, the sipbridge binary built once and started per database
// (embedded SQLite, then PostgreSQL from TEST_DATABASE_URL), everything
// driven through sipbridge's REST API and FreeSWITCH's Event Socket.
//
// Everything lives in the _test.go files: main_test.go (TestMain and the
// prerequisites), switch_test.go (the FreeSWITCH process, fsAPI, its log and
// events), bridge_test.go and api_test.go (the sipbridge process and its
// REST API), sipp_test.go (scenario runners; scenarios in testdata/),
// assistant_test.go (a Twilio Media Streams test assistant), e2e_test.go
// (the per-database suite and its scenario list) and one file per feature;
// soak_test.go and soak_probe_test.go are TestSoak, the soak run on demand
// (SOAK_DURATION, `make soak`) outside the per-database suite.
//
// Run it with `make e2e` (PostgreSQL included) or `go test ./e2e/` (SQLite
// only; the postgres half skips without TEST_DATABASE_URL).
package e2e
