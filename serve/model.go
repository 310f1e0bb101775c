package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/serve/configpb"
	"github.com/inferd/inferd/tensor"
)

// instance is one execution instance of a model version: its own session
// with its own intra-op threads.
type instance struct {
	name string
	sess *engine.Session
}

// version is a loaded, ready model version: its configuration, its
// instances and its scheduler. Requests hold a reference while they run;
// unloading waits for them.
type version struct {
	model   string
	number  int64
	dir     string
	cfg     *configpb.ModelConfig // complete and validated; read-only
	inputs  []tensorSpec          // in the session's input order
	outputs []tensorSpec          // in the session's output order
	sched   *scheduler
	insts   []*instance
	stats   *versionStats
	metrics *versionMetrics
	loaded  time.Time
	// variableDims reports whether some input has a variable dimension
	// besides the batch one, so requests need a batchKey to be joined.
	variableDims bool

	mu      sync.Mutex
	refs    int  // guarded by mu; requests holding the version
	closing bool // guarded by mu
	idle    chan struct{}
}

// loadOptions are what loading a version needs beyond its folder.
type loadOptions struct {
	cfg      *configpb.ModelConfig // validated, not yet completed
	hasFile  bool                  // cfg came from a config.pbtxt
	logger   *slog.Logger
	metrics  *Metrics
	maxProcs int
}

// loadVersion reads <dir>/<cfg.default_model_filename>, compiles one
// session per instance, completes and checks the configuration against
// the model, and runs the warm-up requests. The version takes no traffic
// until the caller publishes it.
func loadVersion(ctx context.Context, name string, number int64, dir string, o loadOptions) (v *version, err error) {
	start := time.Now()
	cfg := cloneConfig(o.cfg)
	cfg.Name = name
	path := filepath.Join(dir, cfg.DefaultModelFilename)
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A config.pbtxt decides batching; without one it is derived.
	if !o.hasFile {
		derived, err := DeriveModelConfig(name, graphInputs(m), m.Graph.Outputs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		cfg = derived
	} else if err := completeConfig(cfg, graphInputs(m), m.Graph.Outputs); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, ConfigFile, err)
	}
	lvl, err := configOptimizationLevel(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, ConfigFile, err)
	}
	level, err := optimize.ParseLevel(lvl) // "" is the engine's default, extended
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, ConfigFile, err)
	}
	count := 0
	for _, g := range cfg.InstanceGroup {
		count += int(g.Count)
	}
	threads, _ := configThreads(cfg)
	if threads == 0 {
		threads = max(1, o.maxProcs/count)
	}
	v = &version{model: name, number: number, dir: dir, cfg: cfg, idle: make(chan struct{})}
	building := v // v is nil on an error return
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%s: loading panicked: %v", path, r)
		}
		if err != nil {
			for _, in := range building.insts {
				in.sess.Close()
			}
		}
	}()
	for gi, g := range cfg.InstanceGroup {
		gname := g.Name
		if gname == "" {
			gname = fmt.Sprintf("%s_%d", name, gi)
		}
		for k := range int(g.Count) {
			var s *engine.Session
			if len(v.insts) == 0 {
				if s, err = engine.Compile(m, engine.Options{Threads: threads, Optimize: level, RestAfterRun: true}); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
			} else {
				// Instances share the compiled graph and its packed
				// weights; each has its own threads and run states.
				s = v.insts[0].sess.Instance(threads)
			}
			v.insts = append(v.insts, &instance{name: fmt.Sprintf("%s_%d", gname, k), sess: s})
		}
	}
	if v.inputs, v.outputs, err = specs(cfg, v.insts[0].sess); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, in := range v.inputs {
		if slices.ContainsFunc(in.dims, func(d int64) bool { return d < 0 }) {
			v.variableDims = true
		}
	}
	if err := v.warmup(ctx); err != nil {
		return nil, fmt.Errorf("%s: warm-up: %w", path, err)
	}
	v.stats = newVersionStats()
	if o.metrics != nil {
		v.metrics = o.metrics.forVersion(name, number)
		v.metrics.loadSeconds.Set(time.Since(start).Seconds())
	}
	dynamic, maxBatch, preferred, delay, maxQueue := false, 1, []int(nil), time.Duration(0), 0
	if db := cfg.GetDynamicBatching(); db != nil {
		dynamic, maxBatch = true, int(cfg.MaxBatchSize)
		for _, p := range db.PreferredBatchSize {
			preferred = append(preferred, int(p))
		}
		delay = time.Duration(db.MaxQueueDelayMicroseconds) * time.Microsecond
		maxQueue = int(db.GetDefaultQueuePolicy().GetMaxQueueSize())
	}
	var onQueue func(int)
	if v.metrics != nil {
		g := v.metrics.pending
		onQueue = func(d int) { g.Add(float64(d)) }
	}
	v.sched = newScheduler(v.insts, dynamic, maxBatch, preferred, delay, maxQueue, v.runBatch, onQueue)
	v.loaded = time.Now()
	return v, nil
}

func cloneConfig(c *configpb.ModelConfig) *configpb.ModelConfig {
	return protoClone(c)
}

// graphInputs returns the inputs a caller supplies (initializers excluded).
func graphInputs(m *ir.Model) []*ir.ValueInfo {
	var out []*ir.ValueInfo
	for _, in := range m.Graph.Inputs {
		if m.Graph.Initializer(in.Name) == nil {
			out = append(out, in)
		}
	}
	return out
}

// specs returns the checked input and output specs in session order.
func specs(cfg *configpb.ModelConfig, s *engine.Session) (ins, outs []tensorSpec, err error) {
	for _, vi := range s.Inputs() {
		in, ok := findInput(cfg, vi.Name)
		if !ok {
			return nil, nil, fmt.Errorf("input %q is missing from the configuration", vi.Name)
		}
		dt, _ := configDType(in.DataType)
		ins = append(ins, tensorSpec{name: in.Name, dtype: dt, dims: in.Dims})
	}
	for _, vi := range s.Outputs() {
		var spec *configpb.ModelOutput
		for _, o := range cfg.Output {
			if o.Name == vi.Name {
				spec = o
			}
		}
		if spec == nil {
			// Outputs the config does not list are still computed; they are returned as the model declares them.
			dt, ok := toConfigDType(vi.Type.DType)
			if !ok {
				return nil, nil, fmt.Errorf("output %q has element type %v, which the serving protocols cannot carry", vi.Name, vi.Type.DType)
			}
			spec = &configpb.ModelOutput{Name: vi.Name, DataType: dt, Dims: []int64{-1}}
		}
		dt, _ := configDType(spec.DataType)
		outs = append(outs, tensorSpec{name: spec.Name, dtype: dt, dims: spec.Dims})
	}
	return ins, outs, nil
}

// acquire takes a reference for one request; it fails once the version
// is closing.
func (v *version) acquire() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closing {
		return false
	}
	v.refs++
	return true
}

func (v *version) release() {
	v.mu.Lock()
	v.refs--
	if v.refs == 0 && v.closing {
		close(v.idle)
	}
	v.mu.Unlock()
}

// close waits for the requests holding v to finish (or ctx to end), then
// stops its scheduler and releases its sessions.
func (v *version) close(ctx context.Context) error {
	v.mu.Lock()
	if !v.closing {
		v.closing = true
		if v.refs == 0 {
			close(v.idle)
		}
	}
	v.mu.Unlock()
	var err error
	select {
	case <-v.idle:
	case <-ctx.Done():
		err = fmt.Errorf("model %q version %d: %d requests still running: %w", v.model, v.number, v.refs, ctx.Err())
	}
	if e := v.sched.close(ctx); e != nil && err == nil {
		err = e
	}
	for _, in := range v.insts {
		in.sess.Close()
	}
	if v.metrics != nil {
		v.metrics.delete()
	}
	return err
}

// batchKey returns the key that decides which requests can share a batch:
// their inputs' shapes without the batch dimension.
func batchKey(inputs []*tensor.Tensor) string {
	var b strings.Builder
	for _, t := range inputs {
		for _, d := range t.Shape[1:] {
			b.WriteString(strconv.Itoa(d))
			b.WriteByte(',')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// infer runs one request's inputs (checked, in model input order) through
// the scheduler; start is when the request reached the model.
func (v *version) infer(ctx context.Context, inputs []*tensor.Tensor, timeout time.Duration, start time.Time) jobResult {
	j := &job{ctx: ctx, inputs: inputs, batch: 1, enqueued: start}
	if v.cfg.MaxBatchSize > 0 {
		j.batch = inputs[0].Shape[0]
		if v.sched.dynamic && v.variableDims {
			j.key = batchKey(inputs)
		}
	}
	if qp := v.cfg.GetDynamicBatching().GetDefaultQueuePolicy(); qp != nil {
		t := time.Duration(qp.DefaultTimeoutMicroseconds) * time.Microsecond
		if timeout > 0 && qp.AllowTimeoutOverride {
			t = timeout
		}
		if t > 0 {
			j.deadline = j.enqueued.Add(t)
			j.reject = qp.TimeoutAction == configpb.ModelQueuePolicy_REJECT
		}
	}
	return v.sched.submit(ctx, j)
}

// runBatch executes jobs as one batch on inst and delivers the results.
// A panic fails the batch's requests, not the server.
func (v *version) runBatch(inst *instance, jobs []*job, dequeued time.Time) {
	delivered := false
	defer func() {
		if r := recover(); r != nil && !delivered {
			for _, j := range jobs {
				j.deliver(jobResult{err: errorf(CodeInternal, "model %q version %d: batch of %d failed: %v", v.model, v.number, len(jobs), r)})
			}
		}
	}()
	// A request run alone reads the clock twice here: it has no inputs to
	// join and no outputs to split, and its queue time ends at dequeued.
	total := 0
	for _, j := range jobs {
		total += j.batch
	}
	ctx := context.Background()
	var feeds []*tensor.Tensor // in session input order, as v.inputs
	var t0, t1 time.Time
	if len(jobs) == 1 {
		ctx = jobs[0].ctx
		feeds = jobs[0].inputs
		t1 = time.Now()
		t0 = t1
	} else {
		t0 = time.Now()
		feeds = concatInputs(jobs, total)
		t1 = time.Now()
	}
	// RunInto with nil outputs hands over new tensors without a copy and
	// without the name maps of Run; outs is in v.outputs order.
	outs := make([]*tensor.Tensor, len(v.outputs))
	err := inst.sess.RunInto(ctx, feeds, outs)
	t2 := time.Now()
	var split [][]*tensor.Tensor
	if err == nil {
		split, err = v.splitOutputs(outs, jobs, total)
	}
	t3 := t2
	if len(jobs) > 1 {
		t3 = time.Now()
	}
	if err != nil {
		err = runError(err)
	}
	in, run, out := t1.Sub(t0), t2.Sub(t1), t3.Sub(t2)
	v.stats.execution(total, in, run, out)
	if v.metrics != nil {
		v.metrics.observeExecution(total, run)
	}
	delivered = true
	for i, j := range jobs {
		r := jobResult{err: err, timing: jobTiming{queue: dequeued.Sub(j.enqueued), input: in, infer: run, output: out}}
		if err == nil {
			r.outputs = split[i]
		}
		j.deliver(r)
	}
}

// runError classifies an engine error: context errors stay as they are,
// anything else is the model failing on valid input.
func runError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Code: CodeInternal, Msg: err.Error()}
}

// concatInputs joins the jobs' inputs along dimension 0.
func concatInputs(jobs []*job, total int) []*tensor.Tensor {
	feeds := make([]*tensor.Tensor, len(jobs[0].inputs))
	for i := range feeds {
		first := jobs[0].inputs[i]
		shape := append([]int{total}, first.Shape[1:]...)
		t := tensor.New(first.DType, shape...)
		dst := reflect.ValueOf(t.Data)
		off := 0
		for _, j := range jobs {
			src := j.inputs[i]
			n := src.Len()
			tensor.CopySlice(dst.Slice(off, off+n).Interface(), src.Data)
			off += n
		}
		feeds[i] = t
	}
	return feeds
}

// splitOutputs returns each job's outputs (in v.outputs order): views of
// the batch outputs along dimension 0 when batching.
func (v *version) splitOutputs(outs []*tensor.Tensor, jobs []*job, total int) ([][]*tensor.Tensor, error) {
	for k, t := range outs {
		if t == nil {
			return nil, fmt.Errorf("model produced no output %q", v.outputs[k].name)
		}
	}
	if len(jobs) == 1 {
		return [][]*tensor.Tensor{outs}, nil // one small allocation; a batch needs one per job anyway
	}
	res := make([][]*tensor.Tensor, len(jobs))
	for i := range jobs {
		res[i] = make([]*tensor.Tensor, len(v.outputs))
	}
	for k, t := range outs {
		if len(t.Shape) == 0 || t.Shape[0] != total {
			return nil, fmt.Errorf("output %q has shape %v for a batch of %d: its first dimension is not the batch", v.outputs[k].name, tensor.ShapeString(t.Shape), total)
		}
		per := 1
		for _, d := range t.Shape[1:] {
			per *= d
		}
		data := reflect.ValueOf(t.Data)
		off := 0
		for i, j := range jobs {
			n := j.batch * per
			res[i][k] = &tensor.Tensor{DType: t.DType, Shape: append([]int{j.batch}, t.Shape[1:]...), Data: data.Slice(off, off+n).Interface()}
			off += n
		}
	}
	return res, nil
}

// warmup runs the configured warm-up requests on every instance, or, with
// none configured, one request of zeros at batch size 1 when every input
// shape is known. A version is not published before it succeeds.
func (v *version) warmup(ctx context.Context) error {
	type sample struct {
		name  string
		count int
		feeds map[string]*tensor.Tensor
	}
	var samples []sample
	for i, w := range v.cfg.ModelWarmup {
		name := w.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		feeds := map[string]*tensor.Tensor{}
		for in, spec := range w.Inputs {
			dt, _ := configDType(spec.DataType)
			shape := make([]int, 0, len(spec.Dims)+1)
			if v.cfg.MaxBatchSize > 0 {
				shape = append(shape, int(w.BatchSize))
			}
			for _, d := range spec.Dims {
				shape = append(shape, int(d))
			}
			t, err := warmupTensor(dt, shape, spec, v.dir)
			if err != nil {
				return fmt.Errorf("model_warmup %q: input %q: %w", name, in, err)
			}
			feeds[in] = t
		}
		samples = append(samples, sample{name: name, count: max(1, int(w.Count)), feeds: feeds})
	}
	if len(samples) == 0 {
		feeds := map[string]*tensor.Tensor{}
		for _, s := range v.inputs {
			shape := make([]int, 0, len(s.dims)+1)
			if v.cfg.MaxBatchSize > 0 {
				shape = append(shape, 1)
			}
			for _, d := range s.dims {
				if d < 0 {
					return nil // shapes not known: nothing to warm up with
				}
				shape = append(shape, int(d))
			}
			feeds[s.name] = tensor.New(s.dtype, shape...)
		}
		samples = append(samples, sample{name: "zeros", count: 1, feeds: feeds})
	}
	for _, inst := range v.insts {
		for _, s := range samples {
			for range s.count {
				if _, err := inst.sess.Run(ctx, s.feeds); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
		}
	}
	return nil
}

// warmupTensor makes one warm-up input.
func warmupTensor(dt tensor.DType, shape []int, spec *configpb.ModelWarmup_Input, dir string) (*tensor.Tensor, error) {
	t := tensor.New(dt, shape...)
	switch f := spec.InputDataType.(type) {
	case *configpb.ModelWarmup_Input_RandomData:
		fillRandom(t)
	case *configpb.ModelWarmup_Input_InputDataFile:
		// Triton's layout: <model>/warmup/<file>, raw little-endian data.
		path := filepath.Join(filepath.Dir(dir), "warmup", f.InputDataFile)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if dt == tensor.String {
			data, err := decodeBytesElements(raw, t.Len())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			t.Data = data
		} else {
			data, err := tensor.DecodeRaw(dt, raw, t.Len(), leOrder)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			t.Data = data
		}
	}
	return t, nil
}

func fillRandom(t *tensor.Tensor) {
	r := rand.New(rand.NewPCG(1, 2))
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = r.Float32()
		}
	case []float64:
		for i := range d {
			d[i] = r.Float64()
		}
	case []int32:
		for i := range d {
			d[i] = int32(r.IntN(100))
		}
	case []int64:
		for i := range d {
			d[i] = int64(r.IntN(100))
		}
	case []uint8:
		for i := range d {
			d[i] = uint8(r.IntN(256))
		}
	}
}

// defaultProcs is the thread budget split among a model's instances.
func defaultProcs() int { return runtime.GOMAXPROCS(0) }
