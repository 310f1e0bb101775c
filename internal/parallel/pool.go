// Package parallel is inferd's intra-op thread pool: a fixed set of worker
// goroutines, started once per session, that split loops between them.
//
// A loop is cut into chunks that the caller and the workers claim one at a
// time, so the caller never waits for a worker to wake: it starts on the
// first chunk at once, and a worker that arrives late finds less (or
// nothing) left to do. Idle workers spin for a short while before they
// park, because between the ops of one model run the next loop usually
// comes within microseconds, and waking a parked goroutine costs tens of
// them — as much as a small op's whole work.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker keeps looking for work before it
// parks. Long enough to bridge the serial ops between two parallel loops
// of one run; short enough that an idle session stops burning its cores
// quickly.
const spinFor = 200 * time.Microsecond

// The pool's state word: the generation of the current loop in the high 32
// bits, a bit that closes the loop to late workers, a bit that stops the
// pool, a bit that sends idle workers to park at once (Rest), and in the
// low 16 bits the number of workers inside the loop.
const (
	activeMask = 1<<16 - 1
	closedBit  = 1 << 16
	quitBit    = 1 << 17
	restBit    = 1 << 18
	genShift   = 32
)

// Pool runs loop chunks on a fixed number of threads (the calling goroutine
// counts as one). It is safe for concurrent use: one For at a time uses the
// workers, and a For that finds them busy (another run's, or a For nested
// inside a chunk) runs its loop on the calling goroutine alone. A nil *Pool
// runs serially.
type Pool struct {
	threads  int
	spin     time.Duration // spinFor; tests lengthen it
	mu       sync.Mutex    // held by the For that owns the workers
	once     sync.Once
	state    atomic.Uint64
	sleepers atomic.Int32
	wake     chan struct{}
	job      job
}

// job is the loop being shared out; only the For holding mu writes it, and
// only while no worker is inside it.
type job struct {
	task      Task
	n, chunks int
	next      atomic.Int64
	panicked  atomic.Pointer[any]
}

// Task is a loop body for ForTask. A kernel that keeps its task in a
// reusable struct passes a pointer to it and allocates nothing per call,
// where a closure handed to For escapes to the heap.
type Task interface {
	Run(lo, hi int)
}

// New returns a pool of the given number of threads (at least 1). Its
// workers start on first use and stop on Close.
func New(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	return &Pool{threads: threads, spin: spinFor}
}

// Rest sends the idle workers to park now instead of spinning for the next
// loop. A caller that knows no loop is coming soon (a server between
// requests) calls it so that the spinning does not take a core from the
// goroutines that need it, at the cost of a wake-up in the next loop.
// Workers inside a loop finish it; the next loop clears the request.
func (p *Pool) Rest() {
	if p.Threads() == 1 {
		return
	}
	for {
		s := p.state.Load()
		if s&(restBit|quitBit) != 0 || p.state.CompareAndSwap(s, s|restBit) {
			return
		}
	}
}

// Threads returns the pool's thread count.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

func (p *Pool) start() {
	p.wake = make(chan struct{}, p.threads)
	for i := 1; i < p.threads; i++ {
		go p.worker()
	}
}

// For calls fn on disjoint ranges [lo, hi) that together cover [0, n), at
// most Threads of them, in parallel, and returns when all have returned.
// A panic in fn is re-raised in the caller.
func (p *Pool) For(n int, fn func(lo, hi int)) { p.ForTask(n, funcTask(fn)) }

// funcTask adapts a loop body to Task; a func value fits in an interface
// without allocating.
type funcTask func(lo, hi int)

func (f funcTask) Run(lo, hi int) { f(lo, hi) }

// ForTask is For with the loop body in a Task.
func (p *Pool) ForTask(n int, t Task) {
	if n <= 0 {
		return
	}
	if p.Threads() == 1 || n == 1 || !p.mu.TryLock() {
		t.Run(0, n)
		return
	}
	p.run(n, t)
}

// run shares out a loop; the caller holds p.mu.
func (p *Pool) run(n int, t Task) {
	p.once.Do(p.start)
	j := &p.job
	j.task, j.n, j.chunks = t, n, min(p.threads, n)
	j.next.Store(0)
	gen := p.state.Load()>>genShift + 1
	p.state.Store(gen << genShift)
	if s := int(p.sleepers.Load()); s > 0 {
		for range min(s, j.chunks-1) {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	defer p.finish()
	j.work()
}

// finish closes the loop to late workers, waits for those inside it,
// releases the workers and re-raises a worker's panic.
func (p *Pool) finish() {
	for {
		s := p.state.Load()
		if p.state.CompareAndSwap(s, s|closedBit) {
			break
		}
	}
	for spins := 0; p.state.Load()&activeMask != 0; spins++ {
		if spins&63 == 63 {
			runtime.Gosched()
		}
	}
	j := &p.job
	j.task = nil
	r := j.panicked.Swap(nil)
	p.mu.Unlock()
	if r != nil {
		panic(*r)
	}
}

// work claims and runs chunks until none is left.
func (j *job) work() {
	for {
		c := int(j.next.Add(1)) - 1
		if c >= j.chunks {
			return
		}
		j.task.Run(c*j.n/j.chunks, (c+1)*j.n/j.chunks)
	}
}

// workGuarded is work on a worker goroutine: a panic is kept for the
// caller instead of killing the process.
func (j *job) workGuarded() {
	defer func() {
		if r := recover(); r != nil {
			j.keepPanic(r)
		}
	}()
	j.work()
}

// keepPanic records the first panic of a job. It is a function of its own
// so that r moves to the heap only when there is a panic: taking its
// address in the deferred function would allocate on every job.
func (j *job) keepPanic(r any) {
	j.panicked.CompareAndSwap(nil, &r)
	j.next.Store(int64(j.chunks))
}

func (p *Pool) worker() {
	var last uint64
	idle := 0
	var idleSince time.Time
	for {
		s := p.state.Load()
		if s&quitBit != 0 {
			return
		}
		if gen := s >> genShift; gen != last && s&closedBit == 0 {
			if p.state.CompareAndSwap(s, s+1) {
				last = gen
				p.job.workGuarded()
				p.state.Add(^uint64(0))
				idle = 0
			}
			continue
		}
		idle++
		if idle&127 != 0 {
			continue
		}
		if idle == 128 {
			idleSince = time.Now()
			continue
		}
		if s&restBit == 0 && time.Since(idleSince) < p.spin {
			runtime.Gosched()
			continue
		}
		p.sleepers.Add(1)
		s = p.state.Load()
		if s&quitBit == 0 && (s>>genShift == last || s&closedBit != 0) {
			<-p.wake
		}
		p.sleepers.Add(-1)
		idle = 0
	}
}

// Close stops the pool's workers. For must not be called after.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.once.Do(p.start)
	for {
		s := p.state.Load()
		if p.state.CompareAndSwap(s, s|quitBit) {
			break
		}
	}
	for range p.threads {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}
