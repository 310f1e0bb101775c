package serve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/inferd/inferd/tensor"
)

// blockingRunner records batches and holds each until released.
type blockingRunner struct {
	mu      sync.Mutex
	batches [][]int // batch sizes of each job, per batch
	release chan struct{}
	started chan struct{}
}

func (b *blockingRunner) run(inst *instance, jobs []*job, _ time.Time) {
	sizes := make([]int, len(jobs))
	for i, j := range jobs {
		sizes[i] = j.batch
	}
	b.mu.Lock()
	b.batches = append(b.batches, sizes)
	b.mu.Unlock()
	b.started <- struct{}{}
	<-b.release
	for _, j := range jobs {
		j.done <- jobResult{outputs: j.inputs}
	}
}

func newJob(ctx context.Context, batch int) *job {
	return &job{ctx: ctx, batch: batch, inputs: []*tensor.Tensor{tensor.New(tensor.Float32, batch, 2)}, enqueued: time.Now(), done: make(chan jobResult, 1)}
}

// TestSchedulerBatches: while the one instance is busy, requests queue;
// when it frees, they run as batches cut at the preferred size.
func TestSchedulerBatches(t *testing.T) {
	br := &blockingRunner{release: make(chan struct{}), started: make(chan struct{}, 100)}
	s := newScheduler([]*instance{{name: "i0"}}, true, 8, []int{4}, 0, 0, br.run, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	submit := func(b int) {
		wg.Go(func() {
			if r := s.submit(ctx, newJob(ctx, b)); r.err != nil {
				t.Error(r.err)
			}
		})
	}
	submit(1) // runs alone at once
	<-br.started
	for k, b := range []int{1, 1, 1, 1, 1, 1, 3} {
		submit(b)
		waitFor(t, func() bool { return s.queueLen() == k+1 })
	}
	br.release <- struct{}{} // batch 1 done
	<-br.started
	br.release <- struct{}{} // batch 2 done
	<-br.started
	br.release <- struct{}{} // batch 3 done
	wg.Wait()
	br.mu.Lock()
	defer br.mu.Unlock()
	// 1; then the six ones and the three: [1 1 1 1] (preferred 4), then
	// [1 1 3], 5, not a preferred size, but nothing more can come.
	want := [][]int{{1}, {1, 1, 1, 1}, {1, 1, 3}}
	if len(br.batches) != len(want) {
		t.Fatalf("batches %v, want %v", br.batches, want)
	}
	for i := range want {
		if len(br.batches[i]) != len(want[i]) {
			t.Fatalf("batches %v, want %v", br.batches, want)
		}
	}
	s.close(ctx)
}

// TestSchedulerQueueFull: past max_queue_size, requests are refused at
// once with CodeQueueFull; queued ones past their timeout get
// CodeUnavailable.
func TestSchedulerQueueLimits(t *testing.T) {
	br := &blockingRunner{release: make(chan struct{}), started: make(chan struct{}, 100)}
	s := newScheduler([]*instance{{name: "i0"}}, true, 4, nil, 0, 2, br.run, nil)
	ctx := context.Background()
	first := make(chan jobResult, 1)
	go func() { first <- s.submit(ctx, newJob(ctx, 4)) }()
	<-br.started // the instance is busy
	results := make(chan jobResult, 2)
	for range 2 {
		go func() {
			j := newJob(ctx, 4)
			j.deadline, j.reject = time.Now().Add(20*time.Millisecond), true
			results <- s.submit(ctx, j)
		}()
	}
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == 2 })
	if r := s.submit(ctx, newJob(ctx, 1)); CodeOf(r.err) != CodeQueueFull || httpStatus(r.err) != 429 {
		t.Errorf("third queued request: %v (code %v), want queue full / 429", r.err, CodeOf(r.err))
	}
	time.Sleep(30 * time.Millisecond)
	br.release <- struct{}{} // the instance frees: the two queued have timed out
	for range 2 {
		r := <-results
		if CodeOf(r.err) != CodeUnavailable || httpStatus(r.err) != 503 {
			t.Errorf("timed-out request: %v, want unavailable / 503", r.err)
		}
	}
	if r := <-first; r.err != nil {
		t.Error(r.err)
	}
	// A canceled request leaves the queue.
	go func() { first <- s.submit(ctx, newJob(ctx, 4)) }()
	<-br.started
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan jobResult)
	go func() { done <- s.submit(cctx, newJob(cctx, 1)) }()
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == 1 })
	cancel()
	if r := <-done; CodeOf(r.err) != CodeCanceled {
		t.Errorf("canceled request: %v", r.err)
	}
	if s.queueLen() != 0 {
		t.Errorf("queue holds %d after cancel", s.queueLen())
	}
	br.release <- struct{}{}
	<-first
	s.close(ctx)
	if r := s.submit(ctx, newJob(ctx, 1)); CodeOf(r.err) != CodeUnavailable {
		t.Errorf("after close: %v", r.err)
	}
}

// TestSchedulerDelay: with a queue delay, a lone request waits for the
// delay, and a batch that reaches the largest preferred size goes at once.
func TestSchedulerDelay(t *testing.T) {
	br := &blockingRunner{release: make(chan struct{}, 100), started: make(chan struct{}, 100)}
	for range 100 {
		br.release <- struct{}{}
	}
	s := newScheduler([]*instance{{name: "i0"}}, true, 8, []int{2}, 50*time.Millisecond, 0, br.run, nil)
	ctx := context.Background()
	start := time.Now()
	if r := s.submit(ctx, newJob(ctx, 1)); r.err != nil {
		t.Fatal(r.err)
	}
	if d := time.Since(start); d < 45*time.Millisecond {
		t.Errorf("lone request ran after %v, want the 50ms queue delay", d)
	}
	start = time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { s.submit(ctx, newJob(ctx, 1)) })
	}
	wg.Wait()
	if d := time.Since(start); d > 40*time.Millisecond {
		t.Logf("a full preferred batch waited %v (the two may have arrived apart)", d)
	}
	s.close(ctx)
}

func (s *scheduler) queueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
