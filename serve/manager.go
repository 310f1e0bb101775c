package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/inferd/inferd/serve/configpb"
	"github.com/inferd/inferd/tensor"
)

// ControlMode is how the model repository is managed, as Triton's
// --model-control-mode.
type ControlMode int

// The control modes.
const (
	// ModeNone loads every model at start-up and never changes them.
	ModeNone ControlMode = iota
	// ModePoll loads every model at start-up and applies changes found
	// by polling the repository.
	ModePoll
	// ModeExplicit loads models only when asked (start-up list or the
	// load/unload API).
	ModeExplicit
)

// ParseControlMode parses "none", "poll" or "explicit".
func ParseControlMode(s string) (ControlMode, error) {
	switch s {
	case "none":
		return ModeNone, nil
	case "poll":
		return ModePoll, nil
	case "explicit":
		return ModeExplicit, nil
	}
	return 0, fmt.Errorf("model control mode %q: want none, poll or explicit", s)
}

func (c ControlMode) String() string {
	return [...]string{"none", "poll", "explicit"}[c]
}

// Version states in the repository index (Triton's names).
const (
	StateReady       = "READY"
	StateLoading     = "LOADING"
	StateUnavailable = "UNAVAILABLE"
)

// IndexEntry is one row of the repository index: a model version (or the
// model as a whole, with an empty Version) and its state.
type IndexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// modelState is what the manager knows of one model. Its fields are
// guarded by Manager.mu; serving is replaced, never modified in place.
type modelState struct {
	name    string
	serving []*version // ready versions, highest first
	cfg     *configpb.ModelConfig
	index   map[int64]IndexEntry // by version; 0 is the model as a whole
	tried   map[int64]string     // version → key of its last load attempt
	keys    map[int64]string     // version → key of the serving instance
	cfgTry  string               // hash of the last config that failed to parse
	wanted  bool                 // should be loaded (for readiness)
}

// Manager owns the models of a repository: it loads, warms up, swaps and
// unloads versions, and routes requests to them. It implements Backend and
// is safe for concurrent use.
type Manager struct {
	repo    string
	mode    ControlMode
	logger  *slog.Logger
	metrics *Metrics
	procs   int

	ops sync.Mutex // serializes loads, unloads and polls

	mu     sync.RWMutex
	models map[string]*modelState // guarded by mu
	closed bool                   // guarded by mu
}

// NewManager returns a manager for the repository folder repo. It loads
// nothing: call LoadAll (none and poll modes) or Load.
func NewManager(repo string, mode ControlMode, logger *slog.Logger, metrics *Metrics) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{repo: repo, mode: mode, logger: logger, metrics: metrics, procs: defaultProcs(), models: map[string]*modelState{}}
}

// Mode returns the control mode.
func (m *Manager) Mode() ControlMode { return m.mode }

// LoadAll loads every model of the repository (start-up in none and poll
// modes, and each poll). A model that fails to load is logged and shown in
// the index; the error lists the models that failed.
func (m *Manager) LoadAll(ctx context.Context) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	return m.pollLocked(ctx)
}

// Poll applies the changes in the repository since the last poll: new
// models and versions are loaded and warmed up before they take traffic,
// changed ones are reloaded, removed ones are unloaded once their requests
// finish. A version that fails to load leaves the serving ones in place.
func (m *Manager) Poll(ctx context.Context) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	return m.pollLocked(ctx)
}

func (m *Manager) pollLocked(ctx context.Context) error {
	if m.isClosed() {
		return errorf(CodeUnavailable, "server is shutting down")
	}
	dirs, err := scanRepository(m.repo)
	if err != nil {
		return err
	}
	var errs []error
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := m.syncModel(ctx, dirs[n], false); err != nil {
			errs = append(errs, err)
		}
	}
	m.mu.RLock()
	var gone []string
	for n := range m.models {
		if dirs[n] == nil {
			gone = append(gone, n)
		}
	}
	m.mu.RUnlock()
	for _, n := range gone {
		m.logger.Info("model folder removed from the repository: unloading", "model", n)
		m.unloadLocked(ctx, n, true)
	}
	return errors.Join(errs...)
}

// Load loads (or reloads what changed in) one model; in explicit mode
// only. It returns when the model's versions are ready or have failed.
func (m *Manager) Load(ctx context.Context, name string) error {
	if m.mode != ModeExplicit {
		return errorf(CodeUnsupported, "explicit model load and unload is not allowed in model control mode %q (start with --model-control-mode explicit)", m.mode)
	}
	if !validModelName(name) {
		return errorf(CodeInvalidArgument, "%q is not a model name", name)
	}
	m.ops.Lock()
	defer m.ops.Unlock()
	if m.isClosed() {
		return errorf(CodeUnavailable, "server is shutting down")
	}
	md, err := scanModel(filepath.Join(m.repo, name), name, "")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errorf(CodeNotFound, "model %q is not in the repository %s", name, m.repo)
		}
		return err
	}
	return m.syncModel(ctx, md, true)
}

// Unload unloads every version of a model once its in-flight requests
// finish; in explicit mode only.
func (m *Manager) Unload(ctx context.Context, name string) error {
	if m.mode != ModeExplicit {
		return errorf(CodeUnsupported, "explicit model load and unload is not allowed in model control mode %q (start with --model-control-mode explicit)", m.mode)
	}
	m.ops.Lock()
	defer m.ops.Unlock()
	m.mu.RLock()
	ms := m.models[name]
	m.mu.RUnlock()
	if ms == nil {
		return errorf(CodeNotFound, "model %q is not loaded", name)
	}
	m.unloadLocked(ctx, name, false)
	return nil
}

func validModelName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name && name[0] != '.'
}

// unloadLocked takes a model out of service and closes its versions.
func (m *Manager) unloadLocked(ctx context.Context, name string, forget bool) {
	m.mu.Lock()
	ms := m.models[name]
	if ms == nil {
		m.mu.Unlock()
		return
	}
	old := ms.serving
	ms.serving = nil
	ms.wanted = false
	for v, e := range ms.index {
		if e.State == StateReady || v == 0 {
			ms.index[v] = IndexEntry{Name: name, Version: e.Version, State: StateUnavailable, Reason: "unloaded"}
		}
	}
	clear(ms.keys)
	clear(ms.tried)
	if forget {
		delete(m.models, name)
	}
	m.mu.Unlock()
	m.closeVersions(ctx, old)
}

func (m *Manager) closeVersions(ctx context.Context, vs []*version) {
	if len(vs) == 0 {
		return
	}
	for _, v := range vs {
		if err := v.close(ctx); err != nil {
			m.logger.Error("unloading version", "model", v.model, "version", v.number, "err", err)
		} else {
			m.logger.Info("unloaded", "model", v.model, "version", v.number)
		}
	}
	// The versions' weights and arenas are most of the process's memory:
	// once nothing refers to them, hand their pages back to the OS at
	// once rather than when the runtime's scavenger gets to them, so that
	// load/unload cycles do not look like a leak to whoever watches
	// resident memory. Done here, after the last reference is dropped
	// and before Unload returns: a collection that runs while a version
	// is still referenced (or concurrently with the next load) frees
	// nothing and leaves the pages to the scavenger.
	clear(vs)
	debug.FreeOSMemory()
}

// syncModel brings one model in line with its folder. force retries
// versions whose last load failed even if nothing changed.
func (m *Manager) syncModel(ctx context.Context, md *modelDir, force bool) error {
	name := md.name
	m.mu.Lock()
	ms := m.models[name]
	if ms == nil {
		ms = &modelState{name: name, index: map[int64]IndexEntry{}, tried: map[int64]string{}, keys: map[int64]string{}}
		m.models[name] = ms
	}
	ms.wanted = true
	m.mu.Unlock()

	setIndex := func(v int64, state, reason string) {
		m.mu.Lock()
		e := IndexEntry{Name: name, State: state, Reason: reason}
		if v > 0 {
			e.Version = strconv.FormatInt(v, 10)
		}
		ms.index[v] = e
		m.mu.Unlock()
	}
	cfg, found, notes, err := ReadModelConfig(md.dir)
	if err == nil && cfg.Name != "" && cfg.Name != name {
		err = fmt.Errorf("name %q does not match the model folder %q", cfg.Name, name)
	}
	if err != nil {
		err = fmt.Errorf("model %q: %s: %w", name, filepath.Join(md.dir, ConfigFile), err)
		if ms.cfgTry != md.cfgHash || force {
			m.logger.Error("model configuration is invalid; serving versions stay as they are", "model", name, "err", err)
		}
		ms.cfgTry = md.cfgHash
		setIndex(0, StateUnavailable, err.Error())
		return err
	}
	ms.cfgTry = ""
	logNotes := force
	wanted := wantedVersions(cfg.VersionPolicy, md.versions)
	if len(wanted) == 0 {
		err := fmt.Errorf("model %q: no version folder matches the version policy (folders: %v)", name, sortedVersions(md.versions))
		if ms.index[0].Reason != err.Error() {
			m.logger.Error("model has no version to serve", "model", name, "err", err)
		}
		setIndex(0, StateUnavailable, err.Error())
		return err
	}
	m.mu.Lock()
	delete(ms.index, 0)
	current := map[int64]*version{}
	for _, v := range ms.serving {
		current[v.number] = v
	}
	m.mu.Unlock()

	var toLoad []int64
	for _, v := range wanted {
		key := md.cfgHash + "/" + md.versions[v]
		if current[v] != nil && ms.keys[v] == key {
			continue
		}
		if ms.tried[v] == key && !force {
			continue // failed before and nothing changed
		}
		toLoad = append(toLoad, v)
		logNotes = true
	}
	if logNotes {
		for _, n := range notes {
			m.logger.Warn(n, "model", name, "config", filepath.Join(md.dir, ConfigFile))
		}
	}
	loaded := map[int64]*version{}
	var errs []error
	for _, v := range toLoad {
		key := md.cfgHash + "/" + md.versions[v]
		ms.tried[v] = key
		if current[v] == nil {
			setIndex(v, StateLoading, "")
		}
		start := time.Now()
		ver, err := loadVersion(ctx, name, v, filepath.Join(md.dir, strconv.FormatInt(v, 10)),
			loadOptions{cfg: cfg, hasFile: found, logger: m.logger, metrics: m.metrics, maxProcs: m.procs})
		if err != nil {
			err = fmt.Errorf("model %q version %d: %w", name, v, err)
			errs = append(errs, err)
			m.logger.Error("version failed to load; serving versions stay as they are", "model", name, "version", v, "err", err)
			m.countLoad(name, "failure")
			reason := err.Error()
			if current[v] != nil {
				reason = "reload failed, previous load still serving: " + reason
				setIndex(v, StateReady, reason)
			} else {
				setIndex(v, StateUnavailable, reason)
			}
			continue
		}
		m.countLoad(name, "success")
		m.logger.Info("loaded", "model", name, "version", v, "instances", len(ver.insts),
			"threads", ver.insts[0].sess.Threads(), "max_batch_size", ver.cfg.MaxBatchSize,
			"dynamic_batching", ver.sched.dynamic, "took", time.Since(start).Round(time.Millisecond))
		loaded[v] = ver
		ms.keys[v] = key
	}

	// The new serving set: wanted versions, new or kept; for each wanted
	// version that is not ready (it failed, now or before), one of the
	// old ones (highest first) stays in service.
	var next []*version
	keep := map[*version]bool{}
	missing := 0
	for _, v := range wanted {
		switch {
		case loaded[v] != nil:
			next = append(next, loaded[v])
		case current[v] != nil:
			next = append(next, current[v])
			keep[current[v]] = true
		default:
			missing++
		}
	}
	for _, old := range sortedServing(current) {
		if missing == 0 {
			break
		}
		if !keep[old] && loaded[old.number] == nil {
			next = append(next, old)
			keep[old] = true
			missing--
		}
	}
	slices.SortFunc(next, func(a, b *version) int { return int(b.number - a.number) })
	var retire []*version
	for _, old := range current {
		if !keep[old] {
			retire = append(retire, old)
		}
	}
	m.mu.Lock()
	if m.closed {
		// Shut down while loading: what was loaded is closed, not published.
		m.mu.Unlock()
		var fresh []*version
		for _, v := range loaded {
			fresh = append(fresh, v)
		}
		m.closeVersions(ctx, fresh)
		return errorf(CodeUnavailable, "server is shutting down")
	}
	ms.serving = next
	if len(loaded) > 0 || ms.cfg == nil {
		if len(next) > 0 {
			ms.cfg = next[0].cfg
		}
	}
	for _, v := range next {
		e := ms.index[v.number]
		if loaded[v.number] != nil || e.State != StateReady {
			e = IndexEntry{Name: name, Version: strconv.FormatInt(v.number, 10), State: StateReady}
		}
		ms.index[v.number] = e
	}
	for _, old := range retire {
		if loaded[old.number] == nil {
			ms.index[old.number] = IndexEntry{Name: name, Version: strconv.FormatInt(old.number, 10), State: StateUnavailable, Reason: "unloaded"}
			delete(ms.keys, old.number)
		}
	}
	m.mu.Unlock()
	// Old versions finish their in-flight requests, then close.
	m.closeVersions(ctx, retire)
	return errors.Join(errs...)
}

func (m *Manager) countLoad(model, result string) {
	if m.metrics != nil {
		m.metrics.loads.WithLabelValues(model, result).Inc()
	}
}

func sortedVersions(vs map[int64]string) []int64 {
	out := make([]int64, 0, len(vs))
	for v := range vs {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func sortedServing(m map[int64]*version) []*version {
	out := make([]*version, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *version) int { return int(b.number - a.number) })
	return out
}

// Close unloads every model, waiting for in-flight requests until ctx
// ends. Requests after Close fail with CodeUnavailable.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	var all []*version
	for _, ms := range m.models {
		all = append(all, ms.serving...)
		ms.serving = nil
	}
	m.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, v := range all {
		wg.Go(func() {
			if err := v.close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (m *Manager) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}

// metricsModel returns the model label for a failure: the name if the
// manager knows the model, else "" (so unknown names sent by clients do
// not create series).
func (m *Manager) metricsModel(name string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.models[name] != nil {
		return name
	}
	return ""
}

// acquire finds the version a request goes to and takes a reference on it.
func (m *Manager) acquire(name string, number int64) (*version, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errorf(CodeUnavailable, "server is shutting down")
	}
	v, err := m.lookup(name, number)
	if err != nil {
		return nil, err
	}
	if !v.acquire() {
		return nil, errorf(CodeUnavailable, "model %q version %d is unloading", name, v.number)
	}
	return v, nil
}

// lookup finds a serving version; called with mu held.
func (m *Manager) lookup(name string, number int64) (*version, error) {
	ms := m.models[name]
	if ms == nil {
		return nil, errorf(CodeNotFound, "unknown model %q", name)
	}
	if len(ms.serving) == 0 {
		reason := ""
		for _, e := range ms.index {
			if e.Reason != "" {
				reason = ": " + e.Reason
				break
			}
		}
		return nil, errorf(CodeUnavailable, "model %q is not ready%s", name, reason)
	}
	if number == 0 {
		return ms.serving[0], nil
	}
	for _, v := range ms.serving {
		if v.number == number {
			return v, nil
		}
	}
	if e, ok := ms.index[number]; ok && e.State != StateReady {
		return nil, errorf(CodeUnavailable, "model %q version %d is not ready (%s %s)", name, number, e.State, e.Reason)
	}
	return nil, errorf(CodeNotFound, "unknown version %d of model %q (serving: %s)", number, name, servingList(ms.serving))
}

func servingList(vs []*version) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += strconv.FormatInt(v.number, 10)
	}
	return s
}

// ParseVersion parses a version string from a request; "" is 0 (the
// server's choice).
func ParseVersion(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, errorf(CodeInvalidArgument, "model version %q is not a positive integer", s)
	}
	return v, nil
}

// Infer runs a request on the model version it names.
func (m *Manager) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	start := time.Now()
	v, err := m.acquire(req.Model, req.Version)
	if err != nil {
		m.metrics.modelFailure(m.metricsModel(req.Model), CodeOf(err))
		return nil, err
	}
	defer v.release()
	vm := v.metrics
	if vm != nil {
		vm.inflight.Inc()
		defer vm.inflight.Dec()
	}
	resp, items, timing, err := v.serve(ctx, req, start)
	end := time.Now()
	total := end.Sub(start)
	v.stats.request(items, total, timing, err, end)
	if vm != nil {
		if err != nil {
			vm.fail(CodeOf(err))
		} else {
			vm.success.Inc()
			vm.request.Observe(total.Seconds())
			vm.queue.Observe(timing.queue.Seconds())
		}
	}
	return resp, err
}

// serve checks a request against the version, runs it and selects the
// outputs asked for.
func (v *version) serve(ctx context.Context, req *InferRequest, start time.Time) (*InferResponse, int, jobTiming, error) {
	inputs, items, err := v.checkInputs(req.Inputs)
	if err != nil {
		return nil, 0, jobTiming{}, err
	}
	sel, err := v.selectOutputs(req.Outputs)
	if err != nil {
		return nil, 0, jobTiming{}, err
	}
	res := v.infer(ctx, inputs, time.Duration(req.Timeout)*time.Microsecond, start)
	if res.err != nil {
		return nil, 0, res.timing, res.err
	}
	var resp *InferResponse
	if sel == nil {
		resp = &InferResponse{Model: v.model, Version: v.number, ID: req.ID, Outputs: make([]Tensor, len(v.outputs))}
		for k, t := range res.outputs {
			resp.Outputs[k] = Tensor{Name: v.outputs[k].name, Tensor: t}
		}
	} else {
		resp = &InferResponse{Model: v.model, Version: v.number, ID: req.ID, Outputs: make([]Tensor, len(sel))}
		for i, k := range sel {
			resp.Outputs[i] = Tensor{Name: v.outputs[k].name, Tensor: res.outputs[k]}
		}
	}
	return resp, items, res.timing, nil
}

// checkInputs matches request tensors to the model's inputs and checks
// their types and shapes; it returns them in model order with the batch
// size.
func (v *version) checkInputs(in []Tensor) ([]*tensor.Tensor, int, error) {
	out := make([]*tensor.Tensor, len(v.inputs))
	batched := v.cfg.MaxBatchSize > 0
	batch := -1
	for _, t := range in {
		k := slices.IndexFunc(v.inputs, func(s tensorSpec) bool { return s.name == t.Name })
		if k < 0 {
			return nil, 0, errorf(CodeInvalidArgument, "model %q has no input %q (inputs: %s)", v.model, t.Name, specNames(v.inputs))
		}
		if out[k] != nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q is given twice", t.Name)
		}
		s := v.inputs[k]
		if t.Tensor == nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q has no data", t.Name)
		}
		if err := t.Validate(); err != nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: %v", t.Name, err)
		}
		if t.DType != s.dtype {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: datatype %s, but the model takes %s", t.Name, kserveName(t.DType), kserveName(s.dtype))
		}
		shape := t.Shape
		if batched {
			if len(shape) != len(s.dims)+1 {
				return nil, 0, errorf(CodeInvalidArgument, "input %q: shape %s, but the model takes %s", t.Name, tensor.ShapeString(t.Shape), fullShape(s.dims, batched))
			}
			b := shape[0]
			if b < 1 || b > int(v.cfg.MaxBatchSize) {
				return nil, 0, errorf(CodeInvalidArgument, "input %q: batch size %d is outside 1..%d (max_batch_size)", t.Name, b, v.cfg.MaxBatchSize)
			}
			if batch >= 0 && b != batch {
				return nil, 0, errorf(CodeInvalidArgument, "input %q: batch size %d, but other inputs have %d", t.Name, b, batch)
			}
			batch = b
			shape = shape[1:]
		}
		if len(shape) != len(s.dims) {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: shape %s, but the model takes %s", t.Name, tensor.ShapeString(t.Shape), fullShape(s.dims, batched))
		}
		for i, d := range s.dims {
			if d >= 0 && int64(shape[i]) != d {
				return nil, 0, errorf(CodeInvalidArgument, "input %q: shape %s, but the model takes %s", t.Name, tensor.ShapeString(t.Shape), fullShape(s.dims, batched))
			}
		}
		out[k] = t.Tensor
	}
	for k, t := range out {
		if t == nil {
			s := v.inputs[k]
			return nil, 0, errorf(CodeInvalidArgument, "missing input %q (%s %s)", s.name, kserveName(s.dtype), fullShape(s.dims, batched))
		}
	}
	if batch < 0 {
		batch = 1
	}
	return out, batch, nil
}

// selectOutputs returns the indexes of the named outputs; nil (every
// output, in order) when names is empty.
func (v *version) selectOutputs(names []string) ([]int, error) {
	if len(names) == 0 {
		return nil, nil
	}
	sel := make([]int, 0, len(names))
	for _, n := range names {
		k := slices.IndexFunc(v.outputs, func(s tensorSpec) bool { return s.name == n })
		if k < 0 {
			return nil, errorf(CodeInvalidArgument, "model %q has no output %q (outputs: %s)", v.model, n, specNames(v.outputs))
		}
		sel = append(sel, k)
	}
	return sel, nil
}

func specNames(ss []tensorSpec) string {
	s := ""
	for i, t := range ss {
		if i > 0 {
			s += ", "
		}
		s += strconv.Quote(t.name)
	}
	return s
}

// fullShape formats config dims as a request shape, -1 for the batch
// dimension and variable ones.
func fullShape(dims []int64, batched bool) string {
	s := "["
	if batched {
		s += "-1"
		if len(dims) > 0 {
			s += ","
		}
	}
	for i, d := range dims {
		if i > 0 {
			s += ","
		}
		s += strconv.FormatInt(d, 10)
	}
	return s + "]"
}

// loadAllExplicit loads every model of the repository in explicit mode
// (--load-model '*').
func (m *Manager) loadAllExplicit(ctx context.Context) error {
	dirs, err := scanRepository(m.repo)
	if err != nil {
		return err
	}
	var errs []error
	for n := range dirs {
		errs = append(errs, m.Load(ctx, n))
	}
	return errors.Join(errs...)
}

// allReady reports whether every model that should be served has a ready
// version.
func (m *Manager) allReady() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, ms := range m.models {
		if ms.wanted && len(ms.serving) == 0 {
			return false
		}
	}
	return !m.closed
}

// ModelReady reports whether a model (version 0: any version) is ready.
func (m *Manager) ModelReady(name string, number int64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, err := m.lookup(name, number)
	return err == nil && !m.closed
}

// Index lists every model of the repository with its versions' states;
// models on disk that were never loaded have no state. readyOnly keeps
// only ready versions.
func (m *Manager) Index(readyOnly bool) ([]IndexEntry, error) {
	dirs, err := scanRepository(m.repo)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	var out []IndexEntry
	for n, ms := range m.models {
		for _, e := range ms.index {
			if !readyOnly || e.State == StateReady {
				out = append(out, e)
			}
		}
		if len(ms.index) == 0 && !readyOnly {
			out = append(out, IndexEntry{Name: n})
		}
	}
	m.mu.RUnlock()
	if !readyOnly {
		for n := range dirs {
			if !slices.ContainsFunc(out, func(e IndexEntry) bool { return e.Name == n }) {
				out = append(out, IndexEntry{Name: n})
			}
		}
	}
	slices.SortFunc(out, func(a, b IndexEntry) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		av, _ := strconv.ParseInt(a.Version, 10, 64)
		bv, _ := strconv.ParseInt(b.Version, 10, 64)
		return int(av - bv)
	})
	return out, nil
}

// ModelMetadata is a model's KServe v2 metadata.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// TensorMetadata describes one input or output; -1 marks a variable
// dimension, the batch dimension included.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// Metadata returns the metadata of a model version (0: the highest ready).
func (m *Manager) Metadata(name string, number int64) (*ModelMetadata, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, err := m.lookup(name, number)
	if err != nil {
		return nil, err
	}
	md := &ModelMetadata{Name: name, Platform: v.cfg.Platform}
	for _, sv := range m.models[name].serving {
		md.Versions = append(md.Versions, strconv.FormatInt(sv.number, 10))
	}
	slices.Reverse(md.Versions)
	md.Inputs = tensorMetadata(v.inputs, v.cfg.MaxBatchSize > 0)
	md.Outputs = tensorMetadata(v.outputs, v.cfg.MaxBatchSize > 0)
	return md, nil
}

func tensorMetadata(specs []tensorSpec, batched bool) []TensorMetadata {
	out := make([]TensorMetadata, len(specs))
	for i, s := range specs {
		shape := make([]int64, 0, len(s.dims)+1)
		if batched {
			shape = append(shape, -1)
		}
		out[i] = TensorMetadata{Name: s.name, Datatype: kserveName(s.dtype), Shape: append(shape, s.dims...)}
	}
	return out
}

// Config returns the complete configuration of a model version (0: the
// highest ready), as the server uses it.
func (m *Manager) Config(name string, number int64) (*configpb.ModelConfig, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, err := m.lookup(name, number)
	if err != nil {
		return nil, err
	}
	return protoClone(v.cfg), nil
}

// Stats returns the statistics of a model's ready versions (name "": of
// every model; number 0: every version).
func (m *Manager) Stats(name string, number int64) ([]modelStats, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var vs []*version
	if name == "" {
		for _, ms := range m.models {
			vs = append(vs, ms.serving...)
		}
	} else if number != 0 {
		v, err := m.lookup(name, number)
		if err != nil {
			return nil, err
		}
		vs = []*version{v}
	} else {
		ms := m.models[name]
		if ms == nil {
			return nil, errorf(CodeNotFound, "unknown model %q", name)
		}
		vs = ms.serving
	}
	out := make([]modelStats, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.stats.snapshot(v.model, strconv.FormatInt(v.number, 10)))
	}
	slices.SortFunc(out, func(a, b modelStats) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		if len(a.Version) != len(b.Version) {
			return len(a.Version) - len(b.Version)
		}
		return cmpStr(a.Version, b.Version)
	})
	return out, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Inputs returns the input specs of a model version, for front ends that
// carry no datatypes (TF Serving REST).
func (m *Manager) inputSpecs(name string, number int64) ([]tensorSpec, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, err := m.lookup(name, number)
	if err != nil {
		return nil, false, err
	}
	return v.inputs, v.cfg.MaxBatchSize > 0, nil
}
