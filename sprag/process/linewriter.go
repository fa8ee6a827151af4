package process

import (
	"bytes"
	"os/exec"
)

// maxLine is the longest line a lineWriter passes on whole; a longer one
// arrives in pieces of this size.
const maxLine = 64 << 10

// lineWriter splits what a process writes into lines, without their "\n"
// or "\r\n", and hands each to emit. os/exec calls Write from one goroutine
// per stream and Wait returns only after that goroutine ended, so it needs
// no lock. Write never fails: a failing writer would make the process's
// next write fail with a broken pipe.
type lineWriter struct {
	buf  []byte
	emit func(line string)
	cmd  *exec.Cmd // for the pid: Start sets cmd.Process before it starts the goroutine that writes
}

// pid returns the process id, for the log fields.
func (w *lineWriter) pid() int {
	if w.cmd == nil || w.cmd.Process == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

// Write implements io.Writer.
func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			w.spill()
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.spill()
		w.line(w.buf)
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	return n, nil
}

// spill passes on the pieces of a line that grew past maxLine. A "\r"
// at the end of the buffer stays in it: it may be the line's ending.
func (w *lineWriter) spill() {
	for len(bytes.TrimSuffix(w.buf, []byte{'\r'})) > maxLine {
		w.emit(string(w.buf[:maxLine]))
		w.buf = append(w.buf[:0], w.buf[maxLine:]...)
	}
}

// line passes on one line without its "\r".
func (w *lineWriter) line(b []byte) {
	w.emit(string(bytes.TrimSuffix(b, []byte{'\r'})))
}

// flush passes on a last line that had no "\n".
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = w.buf[:0]
	}
}
