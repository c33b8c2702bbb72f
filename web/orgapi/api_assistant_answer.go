package orgapi

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// maxWelcomeAudioPath bounds welcome_audio.
const maxWelcomeAudioPath = 200

// applyAnswer sets answer_mode and welcome_audio.
func (s *Server) applyAnswer(a *db.Assistant, in *assistantInput) error {
	if in.AnswerMode != nil {
		switch *in.AnswerMode {
		case db.AnswerAssistantReady, db.AnswerEarlyRingback:
			a.AnswerMode = *in.AnswerMode
		default:
			return httpapi.Invalid("answer_mode", "answer_mode must be %s or %s", db.AnswerAssistantReady, db.AnswerEarlyRingback)
		}
	}
	if in.WelcomeAudio == nil {
		return nil
	}
	v := *in.WelcomeAudio
	if v == "" {
		a.WelcomeAudio = ""
		return nil
	}
	if err := checkWelcomeAudio(v); err != nil {
		return err
	}
	if s.welcomeDir == "" {
		return httpapi.Invalid("welcome_audio", "welcome_audio needs WELCOME_AUDIO_DIR, which is not configured")
	}
	if st, err := os.Stat(filepath.Join(s.welcomeDir, v)); err != nil || !st.Mode().IsRegular() {
		return httpapi.Invalid("welcome_audio", "welcome_audio %q is not a file under WELCOME_AUDIO_DIR", v)
	}
	a.WelcomeAudio = v
	return nil
}

// checkWelcomeAudio checks a welcome_audio path: relative, names of
// letters, digits, '.', '_' and '-' joined by '/', none starting with '.'
// (so no "..", no hidden file), ending in .wav.
func checkWelcomeAudio(v string) error {
	if len(v) > maxWelcomeAudioPath {
		return httpapi.Invalid("welcome_audio", "welcome_audio must be at most %d characters", maxWelcomeAudioPath)
	}
	for _, name := range strings.Split(v, "/") {
		if name == "" || name[0] == '.' || strings.ContainsFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		}) {
			return httpapi.Invalid("welcome_audio", "welcome_audio must be a path under WELCOME_AUDIO_DIR: names of letters, digits, '.', '_' and '-' joined by '/', none starting with '.'")
		}
	}
	if !strings.EqualFold(filepath.Ext(v), ".wav") {
		return httpapi.Invalid("welcome_audio", "welcome_audio must be a .wav file")
	}
	return nil
}
