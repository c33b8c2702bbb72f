package trunk

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The generated files under GenDir, written atomically and only when their
// bytes change.

func (s *Sync) loadDisk() error {
	if s.diskRead {
		return nil
	}
	for _, d := range []string{dirGateways, dirACL, dirProfile} {
		if err := os.MkdirAll(filepath.Join(s.opts.GenDir, d), 0o755); err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(s.opts.GenDir, d))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") {
				continue
			}
			rel := filepath.Join(d, e.Name())
			b, err := os.ReadFile(filepath.Join(s.opts.GenDir, rel))
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.disk[rel] = b
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.diskRead = true
	s.mu.Unlock()
	return nil
}

// Profile is the sofia profile the gateways belong to (FS_PROFILE).
func (s *Sync) Profile() string { return s.opts.Profile }

// Generated returns a copy of the generated files as last written
// (relative path → bytes, the same bytes as under GenDir): what FreeSWITCH
// reads over HTTP in the mod_xml_curl layout. A rejected pass puts the last
// good bytes back here as on disk. ok is false until the first pass has
// read the folder.
func (s *Sync) Generated() (files map[string][]byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.diskRead {
		return nil, false
	}
	files = make(map[string][]byte, len(s.disk))
	for rel, b := range s.disk {
		files[filepath.ToSlash(rel)] = b
	}
	return files, true
}

// writeFiles writes every file that changed (temp file + rename) and removes
// the files no longer wanted.
func (s *Sync) writeFiles(files map[string][]byte, changed map[string][]byte, res *PassResult) error {
	rels := make([]string, 0, len(changed))
	for rel := range changed {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		b, want := files[rel]
		path := filepath.Join(s.opts.GenDir, rel)
		if !want {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			s.mu.Lock()
			delete(s.disk, rel)
			s.mu.Unlock()
		} else {
			if err := writeAtomic(path, b); err != nil {
				return err
			}
			s.mu.Lock()
			s.disk[rel] = b
			s.mu.Unlock()
		}
		res.Written = append(res.Written, rel)
	}
	return nil
}

// restore puts back the files a rejected pass replaced.
func (s *Sync) restore(prev map[string][]byte, res *PassResult) {
	for rel, b := range prev {
		path := filepath.Join(s.opts.GenDir, rel)
		s.mu.Lock()
		if b == nil {
			os.Remove(path)
			delete(s.disk, rel)
		} else if err := writeAtomic(path, b); err == nil {
			s.disk[rel] = b
		}
		s.mu.Unlock()
		res.Written = append(res.Written, rel)
	}
	// What FreeSWITCH holds is unknown after a rejection: read it again next pass.
	s.mu.Lock()
	for _, n := range s.nodes {
		n.known = false
	}
	s.dirtyLocked()
	s.mu.Unlock()
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
