package serve

import (
	"slices"
	"sync"
	"time"
)

// duration is a count and a total time, Triton's StatisticDuration.
type duration struct {
	Count uint64 `json:"count"`
	Ns    uint64 `json:"ns"`
}

func (d *duration) add(t time.Duration) {
	d.Count++
	d.Ns += uint64(max(t, 0))
}

// inferStats mirrors Triton's InferStatistics.
type inferStats struct {
	Success       duration `json:"success"`
	Fail          duration `json:"fail"`
	Queue         duration `json:"queue"`
	ComputeInput  duration `json:"compute_input"`
	ComputeInfer  duration `json:"compute_infer"`
	ComputeOutput duration `json:"compute_output"`
	CacheHit      duration `json:"cache_hit"`
	CacheMiss     duration `json:"cache_miss"`
}

// batchStats mirrors Triton's InferBatchStatistics.
type batchStats struct {
	BatchSize     uint64   `json:"batch_size"`
	ComputeInput  duration `json:"compute_input"`
	ComputeInfer  duration `json:"compute_infer"`
	ComputeOutput duration `json:"compute_output"`
}

// modelStats mirrors Triton's ModelStatistics (the JSON of /stats).
type modelStats struct {
	Name           string       `json:"name"`
	Version        string       `json:"version"`
	LastInference  uint64       `json:"last_inference"`
	InferenceCount uint64       `json:"inference_count"`
	ExecutionCount uint64       `json:"execution_count"`
	InferenceStats inferStats   `json:"inference_stats"`
	BatchStats     []batchStats `json:"batch_stats"`
	MemoryUsage    []struct{}   `json:"memory_usage"`
}

// versionStats accumulates a version's statistics. It is safe for
// concurrent use.
type versionStats struct {
	mu    sync.Mutex
	s     modelStats
	batch map[int]*batchStats
}

func newVersionStats() *versionStats {
	return &versionStats{batch: map[int]*batchStats{}}
}

// request records one finished request of batch items that ended at end.
func (vs *versionStats) request(items int, total time.Duration, t jobTiming, err error, end time.Time) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	st := &vs.s.InferenceStats
	if err != nil {
		st.Fail.add(total)
		return
	}
	vs.s.LastInference = uint64(end.UnixMilli())
	vs.s.InferenceCount += uint64(items)
	st.Success.add(total)
	st.Queue.add(t.queue)
	st.ComputeInput.add(t.input)
	st.ComputeInfer.add(t.infer)
	st.ComputeOutput.add(t.output)
}

// execution records one run of a batch of the given size.
func (vs *versionStats) execution(size int, in, run, out time.Duration) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	vs.s.ExecutionCount++
	b := vs.batch[size]
	if b == nil {
		b = &batchStats{BatchSize: uint64(size)}
		vs.batch[size] = b
	}
	b.ComputeInput.add(in)
	b.ComputeInfer.add(run)
	b.ComputeOutput.add(out)
}

// snapshot returns a copy of the statistics, batch sizes in order.
func (vs *versionStats) snapshot(name, version string) modelStats {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	s := vs.s
	s.Name, s.Version = name, version
	s.BatchStats = make([]batchStats, 0, len(vs.batch))
	for _, b := range vs.batch {
		s.BatchStats = append(s.BatchStats, *b)
	}
	slices.SortFunc(s.BatchStats, func(a, b batchStats) int { return int(a.BatchSize) - int(b.BatchSize) })
	s.MemoryUsage = []struct{}{}
	return s
}
