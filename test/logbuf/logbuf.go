// Package logbuf is a buffer that several goroutines may write at once: tests collect a
// gateway's logs in one and show them when they fail.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer for concurrent writers; the zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
