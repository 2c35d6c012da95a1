package lab

import (
	"bytes"
	"io"
	"sync"
)

// outputMu serialises every PrefixWriter's writes, so that lines from
// several components sharing one terminal or file never interleave,
// whatever the underlying writer is.
var outputMu sync.Mutex

// prefixWriter buffers partial lines until their newline arrives.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
	mu     sync.Mutex
	buf    []byte
}

// PrefixWriter returns a writer that writes each complete line to w as
// "prefix | line". Partial lines are held until their newline arrives or
// until Close, which flushes them and leaves the writer usable. Any
// number of PrefixWriters may share w from several goroutines: each line
// reaches w in one Write call, never interleaved with another.
func PrefixWriter(w io.Writer, prefix string) io.WriteCloser {
	return &prefixWriter{w: w, prefix: []byte(prefix + " | ")}
}

// Write buffers p and writes out every complete line.
func (pw *prefixWriter) Write(p []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()

	pw.buf = append(pw.buf, p...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := pw.emit(pw.buf[:i+1]); err != nil {
			return len(p), err
		}
		pw.buf = pw.buf[i+1:]
	}
}

// Close writes out a pending partial line, ending it with a newline.
func (pw *prefixWriter) Close() error {
	pw.mu.Lock()
	defer pw.mu.Unlock()

	if len(pw.buf) == 0 {
		return nil
	}
	line := append(pw.buf, '\n')
	pw.buf = nil
	return pw.emit(line)
}

// emit writes one prefixed line in a single Write call.
func (pw *prefixWriter) emit(line []byte) error {
	out := make([]byte, 0, len(pw.prefix)+len(line))
	out = append(append(out, pw.prefix...), line...)

	outputMu.Lock()
	defer outputMu.Unlock()
	_, err := pw.w.Write(out)
	return err
}
