//go:build !linux

package controller

type pipeFD int

var errPipeFull = errPipeUnsupported

func openPipe(string) (pipeFD, error)    { return -1, errPipeUnsupported }
func (pipeFD) buffered() (int, error)    { return 0, errPipeUnsupported }
func (pipeFD) write([]byte) (int, error) { return 0, errPipeUnsupported }
func (pipeFD) close() error              { return nil }
