// Package parallel is inferd's intra-op thread pool: a fixed set of worker
// goroutines, started once per session, that split loops between them.
package parallel

import "sync"

// Pool runs loop chunks on a fixed number of threads (the calling goroutine
// counts as one). It is safe for concurrent use; a nil *Pool runs serially.
type Pool struct {
	threads int
	work    chan func()
	once    sync.Once
}

// New returns a pool of the given number of threads (at least 1). Its
// workers start on first use and stop on Close.
func New(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	return &Pool{threads: threads}
}

// Threads returns the pool's thread count.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

func (p *Pool) start() {
	p.work = make(chan func(), p.threads*4)
	for i := 1; i < p.threads; i++ {
		go func() {
			for f := range p.work {
				f()
			}
		}()
	}
}

// For runs fn over [0, n) in up to Threads contiguous chunks and returns
// when all are done. The calling goroutine runs the last chunk itself.
func (p *Pool) For(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	t := p.Threads()
	if t == 1 || n == 1 {
		fn(0, n)
		return
	}
	p.once.Do(p.start)
	chunks := min(t, n)
	var wg sync.WaitGroup
	wg.Add(chunks - 1)
	for c := 0; c < chunks-1; c++ {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		p.work <- func() {
			defer wg.Done()
			fn(lo, hi)
		}
	}
	fn((chunks-1)*n/chunks, n)
	wg.Wait()
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.once.Do(p.start)
	close(p.work)
}
