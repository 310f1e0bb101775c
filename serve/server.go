package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/inferd/inferd/serve/kservepb"
)

// Name and Version are what server metadata reports.
const (
	Name    = "inferd"
	Version = "0.1.0"
)

// Extensions are the KServe v2 / Triton protocol extensions the server
// implements, as server metadata lists them.
var Extensions = []string{"binary_tensor_data", "model_repository", "model_configuration", "statistics", "schedule_policy"}

// Options configure a Server. The zero value serves ./models in control
// mode none with a 64 MiB request limit.
type Options struct {
	// ModelRepository is the repository folder ("" means ./models).
	ModelRepository string
	// ModelControlMode is none, poll or explicit.
	ModelControlMode ControlMode
	// PollInterval is how often Run polls the repository in poll mode
	// (0 means 15 s, Triton's default).
	PollInterval time.Duration
	// LoadModels are the models to load at start-up in explicit mode
	// ("*" for all).
	LoadModels []string
	// MaxRequestBytes bounds an HTTP body or gRPC message (0 means 64 MiB).
	MaxRequestBytes int64
}

// DefaultMaxRequestBytes is the request size limit of the zero Options.
const DefaultMaxRequestBytes = 64 << 20

func (o *Options) validate() error {
	if o.ModelRepository == "" {
		o.ModelRepository = "./models"
	}
	if o.ModelControlMode < ModeNone || o.ModelControlMode > ModeExplicit {
		return fmt.Errorf("model control mode %d is not none, poll or explicit", o.ModelControlMode)
	}
	if o.PollInterval < 0 {
		return fmt.Errorf("repository poll interval %v is negative", o.PollInterval)
	}
	if o.PollInterval == 0 {
		o.PollInterval = 15 * time.Second
	}
	if len(o.LoadModels) > 0 && o.ModelControlMode != ModeExplicit {
		return fmt.Errorf("models to load at start-up are given, but the model control mode is %v, not explicit", o.ModelControlMode)
	}
	if o.MaxRequestBytes < 0 {
		return fmt.Errorf("maximum request size %d is negative", o.MaxRequestBytes)
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	fi, err := os.Stat(o.ModelRepository)
	if err != nil {
		return fmt.Errorf("model repository: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("model repository %s is not a folder", o.ModelRepository)
	}
	return nil
}

// Server is an inference server over a model repository. It provides the
// HTTP handler (KServe v2 and TF Serving REST), the gRPC server (KServe v2
// and grpc.health.v1) and the metrics handler; the caller listens and
// serves them (see cmd/inferd serve), calls Start to load the models and
// Poll in poll mode, and Shutdown to drain.
type Server struct {
	opts    Options
	logger  *slog.Logger
	mgr     *Manager
	metrics *Metrics
	gather  prometheus.Gatherer
	health  *health.Server
	grpc    *grpc.Server
	started atomic.Bool
	closing atomic.Bool
}

// NewServer validates opts and builds a server whose metrics go on reg (a
// nil reg registers none). It loads no model: call Start. A nil logger
// logs nothing.
func NewServer(opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("serve.NewServer: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, logger: logger, metrics: NewMetrics(reg)}
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.gather = g
	}
	s.mgr = NewManager(opts.ModelRepository, opts.ModelControlMode, logger, s.metrics)
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(kservepb.GRPCInferenceService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	s.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(int(opts.MaxRequestBytes)), grpc.MaxSendMsgSize(1<<31-1),
		// Long-lived workers run the handlers: no goroutine is started
		// per request, and their stacks, grown once to the depth of an
		// inference, are not grown again (copied) for every request.
		// A request that finds every worker busy still gets its own
		// goroutine.
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	kservepb.RegisterGRPCInferenceServiceServer(s.grpc, &grpcServer{s: s})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s, nil
}

// Manager returns the server's model manager.
func (s *Server) Manager() *Manager { return s.mgr }

// GRPCServer returns the gRPC server to Serve on a listener.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// MetricsHandler serves /metrics from the registry given to NewServer
// (when it is a Gatherer; else from an empty one).
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	g := s.gather
	if g == nil {
		g = prometheus.NewRegistry()
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// Start loads the models: all of the repository in none and poll modes,
// the LoadModels in explicit mode. Models that fail are logged and shown
// in the index; Start's error lists them, but the server runs anyway.
func (s *Server) Start(ctx context.Context) error {
	var err error
	switch {
	case s.opts.ModelControlMode != ModeExplicit:
		err = s.mgr.LoadAll(ctx)
	case len(s.opts.LoadModels) == 1 && s.opts.LoadModels[0] == "*":
		err = s.mgr.loadAllExplicit(ctx)
	default:
		var errs []error
		for _, m := range s.opts.LoadModels {
			errs = append(errs, s.mgr.Load(ctx, m))
		}
		err = errors.Join(errs...)
	}
	s.started.Store(true)
	s.updateHealth()
	return err
}

// Poll polls the repository every PollInterval until ctx ends (poll mode;
// in other modes it waits for ctx).
func (s *Server) Poll(ctx context.Context) error {
	if s.opts.ModelControlMode != ModePoll {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.mgr.Poll(ctx); err != nil && ctx.Err() == nil {
				s.logger.Debug("repository poll", "err", err)
			}
			s.updateHealth()
		}
	}
}

// Ready reports whether the server is started, not shutting down, and
// every model it should serve has a ready version.
func (s *Server) Ready() bool {
	return s.started.Load() && !s.closing.Load() && s.mgr.allReady()
}

func (s *Server) updateHealth() {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if s.Ready() {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(kservepb.GRPCInferenceService_ServiceDesc.ServiceName, st)
}

// Shutdown marks the server not ready, then unloads the models once their
// queued and running requests finish, or ctx ends. Stop the listeners
// (http.Server.Shutdown, grpc.Server.GracefulStop) before or alongside, so
// no new request arrives; requests that still do get 503 UNAVAILABLE.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.health.Shutdown()
	return s.mgr.Close(ctx)
}
