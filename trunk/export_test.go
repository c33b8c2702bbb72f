package trunk

// SetAfterFingerprint makes f run in every pass between its first read of
// the trunks' fingerprint and its read of the trunks (a write racing the
// pass).
func (s *Sync) SetAfterFingerprint(f func()) {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	s.afterFingerprint = f
}
