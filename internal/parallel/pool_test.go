package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestForCoversRangeOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := New(threads)
		for _, n := range []int{0, 1, 2, 5, 7, 100, 1001} {
			hits := make([]int32, n)
			p.For(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("threads=%d n=%d: index %d visited %d times", threads, n, i, h)
				}
			}
		}
		p.Close()
	}
}

func TestForConcurrentCallers(t *testing.T) {
	p := New(4)
	defer p.Close()
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 100; k++ {
				p.For(64, func(lo, hi int) { total.Add(int64(hi - lo)) })
			}
		}()
	}
	wg.Wait()
	if got := total.Load(); got != 8*100*64 {
		t.Fatalf("total %d, want %d", got, 8*100*64)
	}
}

func TestNilPoolIsSerial(t *testing.T) {
	var p *Pool
	calls := 0
	p.For(10, func(lo, hi int) { calls++ })
	if calls != 1 || p.Threads() != 1 {
		t.Fatalf("nil pool: %d calls, %d threads", calls, p.Threads())
	}
	p.Close()
}

func TestPanicReachesCaller(t *testing.T) {
	p := New(2)
	defer p.Close()
	for round := 0; round < 50; round++ {
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("round %d: recovered %v, want boom", round, r)
				}
			}()
			p.For(2, func(lo, hi int) { panic("boom") })
			t.Fatalf("round %d: For returned after a panic", round)
		}()
	}
	// The pool still works after the panics.
	var total atomic.Int64
	p.For(100, func(lo, hi int) { total.Add(int64(hi - lo)) })
	if total.Load() != 100 {
		t.Fatalf("after panics: covered %d of 100", total.Load())
	}
}

func TestNestedForRunsInline(t *testing.T) {
	p := New(2)
	defer p.Close()
	var total atomic.Int64
	p.For(4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p.For(10, func(a, b int) { total.Add(int64(b - a)) })
		}
	})
	if total.Load() != 40 {
		t.Fatalf("nested loops covered %d of 40", total.Load())
	}
}

type sumTask struct {
	hits []int32
}

func (s *sumTask) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		atomic.AddInt32(&s.hits[i], 1)
	}
}

func TestForTaskAllocatesNothing(t *testing.T) {
	p := New(2)
	defer p.Close()
	task := &sumTask{hits: make([]int32, 64)}
	allocs := testing.AllocsPerRun(200, func() { p.ForTask(64, task) })
	if allocs != 0 {
		t.Errorf("ForTask: %v allocations per call, want 0", allocs)
	}
	for i, h := range task.hits {
		if h != 201 {
			t.Fatalf("index %d visited %d times, want 201", i, h)
		}
	}
}

// meetTask's chunks each wait, up to a second, until another chunk is
// running, so that a worker goroutine always takes part in the loop.
type meetTask struct {
	running atomic.Int32
}

func (m *meetTask) Run(lo, hi int) {
	m.running.Add(1)
	deadline := time.Now().Add(time.Second)
	for m.running.Load() < 2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

func TestWorkerJobAllocatesNothing(t *testing.T) {
	p := New(2)
	defer p.Close()
	task := &meetTask{}
	allocs := testing.AllocsPerRun(50, func() {
		task.running.Store(0)
		p.ForTask(2, task)
	})
	if allocs != 0 {
		t.Errorf("ForTask with a worker taking part: %v allocations per call, want 0", allocs)
	}
}

func TestRestParksSpinningWorkers(t *testing.T) {
	p := New(3)
	defer p.Close()
	p.spin = time.Hour
	var total atomic.Int64
	p.For(3, func(lo, hi int) { total.Add(int64(hi - lo)) })
	p.Rest()
	deadline := time.Now().Add(5 * time.Second)
	for p.sleepers.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 workers parked 5 s after Rest", p.sleepers.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// The next loop wakes them.
	for range 3 {
		p.For(3, func(lo, hi int) { total.Add(int64(hi - lo)) })
	}
	if got := total.Load(); got != 12 {
		t.Errorf("covered %d indices, want 12", got)
	}
}

func TestWorkersParkAndWake(t *testing.T) {
	p := New(3)
	defer p.Close()
	for round := 0; round < 3; round++ {
		var total atomic.Int64
		p.For(3, func(lo, hi int) { total.Add(int64(hi - lo)) })
		if total.Load() != 3 {
			t.Fatalf("round %d: covered %d of 3", round, total.Load())
		}
		time.Sleep(2 * spinFor)
	}
}

// BenchmarkForDispatch measures the cost of sharing out a loop of two tiny
// chunks: the hand-off latency that decides how small an op may be split.
func BenchmarkForDispatch(b *testing.B) {
	p := New(2)
	defer p.Close()
	task := &sumTask{hits: make([]int32, 2)}
	for b.Loop() {
		p.ForTask(2, task)
	}
}
