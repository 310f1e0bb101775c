package serve

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus metrics of a server. Every metric carries
// the model and version labels (failures also a reason); a version's
// series are deleted when it is unloaded, so reloads do not grow the
// registry. The names are listed in serve/README.md.
type Metrics struct {
	success     *prometheus.CounterVec
	failure     *prometheus.CounterVec
	inferences  *prometheus.CounterVec
	executions  *prometheus.CounterVec
	request     *prometheus.HistogramVec
	queue       *prometheus.HistogramVec
	compute     *prometheus.HistogramVec
	batchSize   *prometheus.HistogramVec
	pending     *prometheus.GaugeVec
	inflight    *prometheus.GaugeVec
	loadSeconds *prometheus.GaugeVec
	loads       *prometheus.CounterVec
}

// latencyBuckets span 50 µs to 10 s.
var latencyBuckets = []float64{
	50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
	100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10,
}

// NewMetrics creates the server's metrics and registers them on reg,
// together with the process collector (resident memory, CPU, open files)
// and the Go runtime collector. A nil reg registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	mv := []string{"model", "version"}
	m := &Metrics{
		success: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inferd_request_success_total", Help: "Inference requests that succeeded.",
		}, mv),
		failure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inferd_request_failure_total", Help: "Inference requests that failed, by reason (invalid_argument, not_found, unavailable, queue_full, too_large, canceled, deadline_exceeded, internal).",
		}, []string{"model", "version", "reason"}),
		inferences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inferd_inference_count_total", Help: "Inferences performed (a batch of n counts n).",
		}, mv),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inferd_execution_count_total", Help: "Model executions (batches run).",
		}, mv),
		request: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inferd_request_duration_seconds", Help: "Time from a request reaching the model to its response, successful requests.",
			Buckets: latencyBuckets,
		}, mv),
		queue: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inferd_queue_duration_seconds", Help: "Time requests waited in the scheduler queue.",
			Buckets: latencyBuckets,
		}, mv),
		compute: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inferd_compute_duration_seconds", Help: "Time one model execution (one batch) took in the engine.",
			Buckets: latencyBuckets,
		}, mv),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inferd_batch_size", Help: "Batch size of model executions.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, mv),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inferd_pending_requests", Help: "Requests waiting in the scheduler queue.",
		}, mv),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inferd_inflight_requests", Help: "Requests being processed (queued or running).",
		}, mv),
		loadSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inferd_model_load_duration_seconds", Help: "Time the loaded version took to load and warm up.",
		}, mv),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inferd_model_loads_total", Help: "Version loads, by result (success, failure).",
		}, []string{"model", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.success, m.failure, m.inferences, m.executions, m.request, m.queue, m.compute,
			m.batchSize, m.pending, m.inflight, m.loadSeconds, m.loads,
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewGoCollector())
	}
	return m
}

// versionMetrics are a version's series, looked up once at load.
type versionMetrics struct {
	m           *Metrics
	labels      prometheus.Labels
	success     prometheus.Counter
	inferences  prometheus.Counter
	executions  prometheus.Counter
	request     prometheus.Observer
	queue       prometheus.Observer
	compute     prometheus.Observer
	batchSize   prometheus.Observer
	pending     prometheus.Gauge
	inflight    prometheus.Gauge
	loadSeconds prometheus.Gauge
}

func (m *Metrics) forVersion(model string, version int64) *versionMetrics {
	l := prometheus.Labels{"model": model, "version": strconv.FormatInt(version, 10)}
	return &versionMetrics{
		m: m, labels: l,
		success:     m.success.With(l),
		inferences:  m.inferences.With(l),
		executions:  m.executions.With(l),
		request:     m.request.With(l),
		queue:       m.queue.With(l),
		compute:     m.compute.With(l),
		batchSize:   m.batchSize.With(l),
		pending:     m.pending.With(l),
		inflight:    m.inflight.With(l),
		loadSeconds: m.loadSeconds.With(l),
	}
}

func (vm *versionMetrics) observeExecution(size int, run interface{ Seconds() float64 }) {
	vm.executions.Inc()
	vm.inferences.Add(float64(size))
	vm.batchSize.Observe(float64(size))
	vm.compute.Observe(run.Seconds())
}

func (vm *versionMetrics) fail(code Code) {
	vm.m.failure.With(prometheus.Labels{"model": vm.labels["model"], "version": vm.labels["version"], "reason": code.String()}).Inc()
}

// delete removes the version's series.
func (vm *versionMetrics) delete() {
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{vm.m.success, vm.m.failure, vm.m.inferences, vm.m.executions, vm.m.request, vm.m.queue, vm.m.compute, vm.m.batchSize, vm.m.pending, vm.m.inflight, vm.m.loadSeconds} {
		v.DeletePartialMatch(vm.labels)
	}
}

// modelFailure counts a failure that has no version (unknown model or
// version, a malformed request).
func (m *Metrics) modelFailure(model string, code Code) {
	if m == nil {
		return
	}
	m.failure.With(prometheus.Labels{"model": model, "version": "", "reason": code.String()}).Inc()
}
