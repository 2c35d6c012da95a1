package chaos_test

import (
	"bytes"
	"sync"
)

// syncBuffer is a bytes.Buffer safe for the lab's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
