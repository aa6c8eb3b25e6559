// Package tailbuf keeps the end of a child process's output, for error
// messages that say why it died without holding all it wrote.
package tailbuf

import (
	"bytes"
	"sync"
)

// Buffer keeps the last Max bytes written to it. It is safe for concurrent
// use (a process's stdout and stderr may share one).
type Buffer struct {
	Max int

	mu  sync.Mutex
	buf []byte
}

// Write keeps p, dropping the oldest bytes beyond Max.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.Max; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

// String is what is kept, trimmed of surrounding white space.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}
