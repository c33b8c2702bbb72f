package callapi

import (
	"net/http"
	"os"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// HasRecording reports whether the call's recording can be fetched: it
// was recorded and the call has ended (the file is written at the end).
func HasRecording(c *db.Call) bool { return c.RecordingPath != "" && c.EndedAt != nil }

// ServeRecording streams rec's WAV recording (ranges included) with
// Content-Disposition disposition ("attachment" for the API, "inline" for
// the console's player). The caller has checked that rec is the asking
// organization's. No recording, or its file gone: 404 "recording not
// found", nothing written.
func ServeRecording(w http.ResponseWriter, r *http.Request, rec *db.Call, disposition string) error {
	if !HasRecording(rec) {
		return httpapi.NotFound("recording")
	}
	f, err := os.Open(rec.RecordingPath)
	if err != nil {
		return httpapi.NotFound("recording")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return httpapi.NotFound("recording")
	}
	w.Header().Set("Content-Disposition", disposition+`; filename="`+rec.ID+`.wav"`)
	http.ServeContent(w, r, rec.ID+".wav", st.ModTime(), f)
	return nil
}
