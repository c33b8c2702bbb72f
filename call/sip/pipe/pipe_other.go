//go:build !linux

package pipe

type pipeFD int

var errPipeFull = errPipeUnsupported

func openPipe(string) (pipeFD, error)    { return -1, errPipeUnsupported }
func openWriter(string) (pipeFD, error)  { return -1, errNotPipe }
func (pipeFD) buffered() (int, error)    { return 0, errPipeUnsupported }
func (pipeFD) write([]byte) (int, error) { return 0, errPipeUnsupported }
func (pipeFD) drain([]byte) int          { return 0 }
func (pipeFD) close() error              { return nil }
