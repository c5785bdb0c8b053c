package runtime

import "sync"

// jobQueue is a session's inbox: an unbounded-looking FIFO whose Push never blocks
// the SIP, media or timer goroutine that calls it, with a hard cap so that a flood
// of events cannot grow it without end.
type jobQueue struct {
	mu       sync.Mutex
	jobs     []func()
	head     int
	max      int
	overflow bool
	closed   bool
	ready    chan struct{} // holds one token while jobs are waiting
}

func newJobQueue(max int) *jobQueue {
	return &jobQueue{max: max, ready: make(chan struct{}, 1)}
}

// push appends a job and reports whether it was taken. A full queue marks itself
// overflowed; the session ends when it sees that.
func (q *jobQueue) push(job func()) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if len(q.jobs)-q.head >= q.max {
		q.overflow = true
		q.mu.Unlock()
		q.signal()
		return false
	}
	q.jobs = append(q.jobs, job)
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *jobQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest job without waiting.
func (q *jobQueue) pop() (func(), bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.jobs) {
		return nil, false
	}
	job := q.jobs[q.head]
	q.jobs[q.head] = nil
	q.head++
	if q.head == len(q.jobs) {
		q.jobs, q.head = q.jobs[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.jobs) {
		q.jobs, q.head = append(q.jobs[:0:0], q.jobs[q.head:]...), 0
	}
	return job, true
}

func (q *jobQueue) overflowed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overflow
}

// close refuses every later push and drops what is waiting.
func (q *jobQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.jobs, q.head = nil, 0
}
