// Package startstop is how every background service in Folio starts and
// stops: it runs on a context derived from what it serves, its owner holds
// a Service and stops it, and Stop returns only once it has ended.
package startstop

import (
	"context"
	"errors"
)

// ErrStopped is the cause of a service context cancelled by Stop.
var ErrStopped = errors.New("service stopped")

// Service is one running background service.
type Service struct {
	name   string
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error
}

// Start runs run in a goroutine on a child of ctx, and returns its handle.
// run must return soon after its context ends, having cleaned up.
func Start(ctx context.Context, name string, run func(context.Context) error) *Service {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &Service{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = run(ctx)
	}()
	return s
}

// Name names the service (for logs).
func (s *Service) Name() string { return s.name }

// Done is closed when the service has ended.
func (s *Service) Done() <-chan struct{} { return s.done }

// Stop cancels the service's context and waits for it to end. It returns
// what the service returned, except the context's own cancellation. Safe
// to call more than once.
func (s *Service) Stop() error {
	s.cancel(ErrStopped)
	<-s.done
	if errors.Is(s.err, context.Canceled) || errors.Is(s.err, ErrStopped) {
		return nil
	}
	return s.err
}

// Err is what the service returned; nil while it runs.
func (s *Service) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}
