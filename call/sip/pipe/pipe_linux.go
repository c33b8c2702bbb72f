package pipe

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// pipeFD is the sipbridge end of a playback pipe: opened read-write, so
// opening never waits for FreeSWITCH and FreeSWITCH's open never waits for
// us, and non-blocking, so a full pipe never stalls the writer.
type pipeFD int

var errPipeFull = errors.New("playback pipe full")

func openPipe(path string) (pipeFD, error) {
	_ = os.Remove(path) // a pipe left by a process that died
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		return -1, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(path)
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return pipeFD(fd), nil
}

// buffered is how many bytes wait in the pipe (FIONREAD).
func (f pipeFD) buffered() (int, error) {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(f), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, e
	}
	return int(n), nil
}

func (f pipeFD) write(b []byte) (int, error) {
	n, err := syscall.Write(int(f), b)
	if n < 0 {
		n = 0
	}
	if errors.Is(err, syscall.EAGAIN) {
		err = errPipeFull
	}
	return n, err
}

// drain reads what is in the pipe into buf (reused) until it is empty and
// returns how many bytes it took.
func (f pipeFD) drain(buf []byte) int {
	total := 0
	for {
		n, err := syscall.Read(int(f), buf)
		if n <= 0 || err != nil {
			return total
		}
		total += n
	}
}

func (f pipeFD) close() error { return syscall.Close(int(f)) }

// openWriter opens a named pipe someone reads, write-only and without
// waiting: errNotPipe when path is not a named pipe, errNoReader when
// nobody has it open for reading.
func openWriter(path string) (pipeFD, error) {
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return -1, errNotPipe
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NOCTTY, 0)
	if errors.Is(err, syscall.ENXIO) {
		return -1, errNoReader
	}
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		_ = syscall.Close(fd) // replaced meanwhile
		return -1, errNotPipe
	}
	return pipeFD(fd), nil
}
