package route

// fetchIf starts read on its own goroutine when want (a lookup of the
// call's routing that others need not wait for) and returns the wait for
// its answer; without want the wait answers nothing at once.
func fetchIf[T any](want bool, read func() (T, error)) func() (T, error) {
	if !want {
		return func() (T, error) { var zero T; return zero, nil }
	}
	var v T
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err = read()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}
