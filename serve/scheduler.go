package serve

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/inferd/inferd/tensor"
)

// job is one request waiting in a scheduler queue.
type job struct {
	ctx      context.Context
	inputs   []*tensor.Tensor // in the model's input order
	batch    int              // batch items (dim 0) when batching, else 1
	key      string           // requests with equal keys can be batched together
	enqueued time.Time
	deadline time.Time // queue timeout; zero if none
	reject   bool      // reject (true) or keep (false) a job past its deadline
	// done receives the result of a job that waited in the queue; a job
	// run on its submitter's goroutine has none and gets res instead.
	done chan jobResult
	res  jobResult
	one  [1]*job // the batch of a job run alone
}

// deliver hands a job its result.
func (j *job) deliver(r jobResult) {
	if j.done == nil {
		j.res = r
		return
	}
	j.done <- r
}

// jobResult is what a job's submitter gets back.
type jobResult struct {
	outputs []*tensor.Tensor // in the model's output order
	err     error
	timing  jobTiming
}

// jobTiming is the time a job spent in each stage, for statistics.
type jobTiming struct {
	queue, input, infer, output time.Duration
}

// batchRunner executes a batch of jobs on one instance and delivers each
// job's result.
type batchRunner func(inst *instance, jobs []*job, dequeued time.Time)

// scheduler queues requests for one model version and hands batches to
// free instances. With dynamic batching it joins compatible requests up to
// maxBatch, preferring the preferred sizes, waiting at most delay for a
// batch to fill; without, each request runs alone. It is safe for
// concurrent use.
type scheduler struct {
	// Immutable after newScheduler.
	dynamic   bool
	maxBatch  int           // largest batch in items (dynamic only)
	preferred []int         // sorted preferred batch sizes (dynamic only)
	delay     time.Duration // max_queue_delay
	maxQueue  int           // 0: unbounded
	run       batchRunner
	stopped   chan struct{} // closed when the dispatch loop returns
	onQueue   func(delta int)
	// work holds one channel per instance, read by that instance's
	// worker goroutine: batches run on long-lived goroutines, so none is
	// started, and no stack grown to the engine's depth, per batch.
	work map[*instance]chan batchWork

	mu     sync.Mutex
	queue  []*job        // guarded by mu; FIFO
	idle   []*instance   // guarded by mu; instances ready for a batch
	wake   chan struct{} // cap 1; signalled when the queue or idle changes
	closed bool          // guarded by mu; no new jobs
	busy   sync.WaitGroup
	// workers counts the worker goroutines still running: close waits
	// for them, so that none holds the version (and its sessions'
	// memory) after the scheduler is closed.
	workers sync.WaitGroup
}

func newScheduler(instances []*instance, dynamic bool, maxBatch int, preferred []int, delay time.Duration, maxQueue int, run batchRunner, onQueue func(int)) *scheduler {
	s := &scheduler{
		dynamic: dynamic, maxBatch: maxBatch, preferred: slices.Clone(preferred), delay: delay,
		maxQueue: maxQueue, run: run, onQueue: onQueue,
		idle: slices.Clone(instances), stopped: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	if s.onQueue == nil {
		s.onQueue = func(int) {}
	}
	s.work = make(map[*instance]chan batchWork, len(instances))
	for _, inst := range instances {
		ch := make(chan batchWork, 1)
		s.work[inst] = ch
		s.workers.Add(1)
		go s.worker(inst, ch)
	}
	go s.loop()
	return s
}

// batchWork is a batch handed to an instance's worker.
type batchWork struct {
	jobs     []*job
	dequeued time.Time
}

// worker runs the batches handed to inst until the scheduler closes ch.
func (s *scheduler) worker(inst *instance, ch <-chan batchWork) {
	defer s.workers.Done()
	for w := range ch {
		s.run(inst, w.jobs, w.dequeued)
		s.putIdle(inst)
		s.busy.Done()
	}
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// submit queues j and waits for its result or for ctx to end.
func (s *scheduler) submit(ctx context.Context, j *job) jobResult {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return jobResult{err: errorf(CodeUnavailable, "model is unloading")}
	}
	if s.maxQueue > 0 && len(s.queue) >= s.maxQueue {
		s.mu.Unlock()
		return jobResult{err: errorf(CodeQueueFull, "queue is full (max_queue_size %d): retry later", s.maxQueue)}
	}
	// Fast path: nothing queued, an instance idle and no reason to wait
	// for a batch to fill: run on the caller's goroutine.
	if len(s.queue) == 0 && len(s.idle) > 0 && (!s.dynamic || s.delay == 0 || j.batch >= s.target()) {
		inst := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		s.busy.Add(1)
		s.mu.Unlock()
		j.one[0] = j
		s.run(inst, j.one[:], j.enqueued)
		s.putIdle(inst)
		s.busy.Done()
		if j.done != nil {
			return <-j.done
		}
		return j.res
	}
	if j.done == nil {
		j.done = make(chan jobResult, 1)
	}
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	s.onQueue(1)
	s.signal()
	select {
	case r := <-j.done:
		return r
	case <-ctx.Done():
		if s.remove(j) {
			return jobResult{err: ctx.Err(), timing: jobTiming{queue: time.Since(j.enqueued)}}
		}
		// Already running: its result is dropped when it comes.
		return jobResult{err: ctx.Err()}
	}
}

// remove takes j out of the queue; it reports false if j had left it.
func (s *scheduler) remove(j *job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.queue, j)
	if i < 0 {
		return false
	}
	s.queue = slices.Delete(s.queue, i, i+1)
	s.onQueue(-1)
	return true
}

// target is the batch size that is dispatched without waiting.
func (s *scheduler) target() int {
	if len(s.preferred) > 0 {
		return s.preferred[len(s.preferred)-1]
	}
	return s.maxBatch
}

// putIdle returns an instance after a batch and wakes the loop if a job
// waits for it.
func (s *scheduler) putIdle(inst *instance) {
	s.mu.Lock()
	s.idle = append(s.idle, inst)
	// With nothing queued the loop has nothing to hand out: waking it
	// would cost a goroutine switch (often a thread wake-up) per request.
	// The next submit queues and signals, or runs on its own goroutine.
	wake := len(s.queue) > 0 || s.closed
	s.mu.Unlock()
	if wake {
		s.signal()
	}
}

// loop hands batches to idle instances until the scheduler is closed and
// its queue is empty.
func (s *scheduler) loop() {
	defer close(s.stopped)
	defer func() {
		for _, ch := range s.work {
			close(ch)
		}
	}()
	for {
		inst, jobs := s.next()
		if jobs == nil {
			return
		}
		s.busy.Add(1)
		// inst was idle, so its worker is waiting and the send does not
		// block.
		s.work[inst] <- batchWork{jobs: jobs, dequeued: time.Now()}
	}
}

// next blocks until an instance is idle and a batch is ready, and
// returns both; it returns nil jobs once the scheduler is closed and
// drained.
func (s *scheduler) next() (*instance, []*job) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		now := time.Now()
		s.expire(now)
		if len(s.queue) == 0 || len(s.idle) == 0 {
			done := s.closed && len(s.queue) == 0
			s.mu.Unlock()
			if done {
				return nil, nil
			}
			<-s.wake
			continue
		}
		jobs, wait := s.form(now)
		if jobs != nil {
			s.queue = slices.DeleteFunc(s.queue, func(j *job) bool { return slices.Contains(jobs, j) })
			s.onQueue(-len(jobs))
			inst := s.idle[len(s.idle)-1]
			s.idle = s.idle[:len(s.idle)-1]
			s.mu.Unlock()
			return inst, jobs
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// expire fails queued jobs whose queue timeout has passed (timeout_action
// REJECT) and drops jobs whose submitter has gone. Called with mu held.
func (s *scheduler) expire(now time.Time) {
	s.queue = slices.DeleteFunc(s.queue, func(j *job) bool {
		if j.ctx.Err() != nil {
			s.onQueue(-1)
			return true // submit returns on its own
		}
		if j.reject && !j.deadline.IsZero() && now.After(j.deadline) {
			s.onQueue(-1)
			j.deliver(jobResult{
				err:    errorf(CodeUnavailable, "request timed out in the queue after %v (default_timeout_microseconds)", now.Sub(j.enqueued).Round(time.Microsecond)),
				timing: jobTiming{queue: now.Sub(j.enqueued)},
			})
			return true
		}
		return false
	})
}

// form picks the next batch from the queue, or returns how long to wait
// for it to fill. Called with mu held and a non-empty queue.
func (s *scheduler) form(now time.Time) ([]*job, time.Duration) {
	head := s.queue[0]
	if !s.dynamic {
		return []*job{head}, 0
	}
	// Jobs that can join head's batch, in queue order, while they fit.
	var cand []*job
	sizes := []int{}
	total := 0
	for _, j := range s.queue {
		if j.key != head.key || total+j.batch > s.maxBatch {
			continue
		}
		cand = append(cand, j)
		total += j.batch
		sizes = append(sizes, total)
		if total == s.maxBatch {
			break
		}
	}
	target := s.target()
	waited := now.Sub(head.enqueued)
	if total < target && s.delay > 0 && waited < s.delay && !s.closed {
		wait := s.delay - waited
		if !head.deadline.IsZero() && head.reject {
			wait = min(wait, head.deadline.Sub(now)+time.Microsecond)
		}
		return nil, max(wait, time.Microsecond)
	}
	// Cut at the largest preferred size the candidates reach exactly.
	n := len(cand)
	if len(s.preferred) > 0 {
		for i := len(sizes) - 1; i >= 0; i-- {
			if _, ok := slices.BinarySearch(s.preferred, sizes[i]); ok {
				n = i + 1
				break
			}
		}
	}
	return cand[:n], 0
}

// close stops intake, lets queued jobs run, and waits for the running
// batches to finish or ctx to end.
func (s *scheduler) close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	select {
	case <-s.stopped:
	case <-ctx.Done():
		return fmt.Errorf("scheduler: %w", ctx.Err())
	}
	done := make(chan struct{})
	go func() { s.busy.Wait(); s.workers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler: %w", ctx.Err())
	}
}
