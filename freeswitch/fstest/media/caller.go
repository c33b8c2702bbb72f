package media

import (
	"fmt"
	"os"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/audiofile"
)

// WAVCaller returns an InboundCall.CallerAudio that plays a WAV file (16-bit
// PCM, any rate, channels mixed) as the caller's voice at 16 kHz, looped,
// at the real-time pace mod_audio_stream sends it.
func WAVCaller(path string) (func(dst []int16), error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pcm8, _, err := audiofile.ReadWAV(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(pcm8) == 0 {
		return nil, fmt.Errorf("%s: no audio", path)
	}
	pos := 0 // in 16 kHz samples
	return func(dst []int16) {
		for i := range dst {
			dst[i] = pcm8[(pos/2)%len(pcm8)] // each 8 kHz sample twice
			pos++
		}
	}, nil
}
