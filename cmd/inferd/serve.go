package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	rungroup "github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inferd/inferd/serve"
)

// serveFlags holds the options of inferd serve, with Triton's flag names.
type serveFlags struct {
	repo                               string
	httpPort, grpcPort, metricsPort    int
	httpAddr, grpcAddr, metricsAddr    string
	allowHTTP, allowGRPC, allowMetrics bool
	controlMode                        string
	pollSecs                           int
	loadModels                         stringList
	maxRequestSize                     int64
	exitTimeoutSecs                    int
	logFormat, logLevel                string
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.repo, "model-repository", "./models", "model repository `DIR`: <DIR>/<model>/<version>/model.onnx and an optional <DIR>/<model>/config.pbtxt")
	fs.IntVar(&f.httpPort, "http-port", 8000, "port of the HTTP endpoint (KServe v2 REST, TF Serving REST); 0 picks a free port")
	fs.IntVar(&f.grpcPort, "grpc-port", 8001, "port of the gRPC endpoint (KServe v2 gRPC, grpc.health.v1); 0 picks a free port")
	fs.IntVar(&f.metricsPort, "metrics-port", 8002, "port of the Prometheus /metrics endpoint; 0 picks a free port")
	fs.StringVar(&f.httpAddr, "http-address", "0.0.0.0", "address the HTTP endpoint listens on")
	fs.StringVar(&f.grpcAddr, "grpc-address", "0.0.0.0", "address the gRPC endpoint listens on")
	fs.StringVar(&f.metricsAddr, "metrics-address", "0.0.0.0", "address the metrics endpoint listens on")
	fs.BoolVar(&f.allowHTTP, "allow-http", true, "serve HTTP")
	fs.BoolVar(&f.allowGRPC, "allow-grpc", true, "serve gRPC")
	fs.BoolVar(&f.allowMetrics, "allow-metrics", true, "serve metrics")
	fs.StringVar(&f.controlMode, "model-control-mode", "none", "`none` (load all at start), poll (load all, then apply repository changes) or explicit (load/unload API)")
	fs.IntVar(&f.pollSecs, "repository-poll-secs", 15, "seconds between repository polls in poll mode")
	fs.Var(&f.loadModels, "load-model", "`MODEL` to load at start-up in explicit mode; repeat, or '*' for all")
	fs.Int64Var(&f.maxRequestSize, "max-request-size", serve.DefaultMaxRequestBytes, "largest HTTP request body or gRPC message in `BYTES`; larger ones get 413 / RESOURCE_EXHAUSTED")
	fs.IntVar(&f.exitTimeoutSecs, "exit-timeout-secs", 30, "on SIGTERM or SIGINT, seconds to let in-flight requests finish before exiting")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (f *serveFlags) options() (serve.Options, error) {
	mode, err := serve.ParseControlMode(f.controlMode)
	if err != nil {
		return serve.Options{}, err
	}
	if f.pollSecs < 1 {
		return serve.Options{}, fmt.Errorf("--repository-poll-secs %d: want at least 1", f.pollSecs)
	}
	if f.maxRequestSize < 1 {
		return serve.Options{}, fmt.Errorf("--max-request-size %d: want a positive size", f.maxRequestSize)
	}
	if f.exitTimeoutSecs < 0 {
		return serve.Options{}, fmt.Errorf("--exit-timeout-secs %d: want 0 or more", f.exitTimeoutSecs)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"http-port", f.httpPort}, {"grpc-port", f.grpcPort}, {"metrics-port", f.metricsPort}} {
		if p.v < 0 || p.v > 65535 {
			return serve.Options{}, fmt.Errorf("--%s %d: not a port", p.name, p.v)
		}
	}
	return serve.Options{
		ModelRepository:  f.repo,
		ModelControlMode: mode,
		PollInterval:     time.Duration(f.pollSecs) * time.Second,
		LoadModels:       f.loadModels,
		MaxRequestBytes:  f.maxRequestSize,
	}, nil
}

func (f *serveFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

func serveCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var f serveFlags
	f.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected argument %q (serve takes flags only)", pos[0])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runServe(ctx, f, stderr, nil)
}

// listening receives the addresses the server listens on (for tests).
type listening func(http, grpc, metrics net.Addr)

// runServe runs the server until ctx ends or an endpoint fails: HTTP,
// gRPC, metrics, the repository poller and the shutdown trigger are actors
// of one run group.
func runServe(ctx context.Context, f serveFlags, logw io.Writer, ready listening) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	logger, err := f.logger(logw)
	if err != nil {
		return err
	}
	start := time.Now()
	reg := prometheus.NewRegistry()
	srv, err := serve.NewServer(opts, logger, reg)
	if err != nil {
		return err
	}
	listen := func(allowed bool, addr string, port int) (net.Listener, error) {
		if !allowed {
			return nil, nil
		}
		return net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	}
	hl, err := listen(f.allowHTTP, f.httpAddr, f.httpPort)
	if err != nil {
		return fmt.Errorf("HTTP endpoint: %w", err)
	}
	gl, err := listen(f.allowGRPC, f.grpcAddr, f.grpcPort)
	if err != nil {
		closeAll(hl)
		return fmt.Errorf("gRPC endpoint: %w", err)
	}
	ml, err := listen(f.allowMetrics, f.metricsAddr, f.metricsPort)
	if err != nil {
		closeAll(hl, gl)
		return fmt.Errorf("metrics endpoint: %w", err)
	}
	exitTimeout := time.Duration(f.exitTimeoutSecs) * time.Second
	// One deadline for the whole shutdown, fixed when it starts: the
	// endpoints drain one after another (the run group interrupts its
	// actors in turn), then the models, all within --exit-timeout-secs.
	var stopOnce sync.Once
	var stopBy time.Time
	deadline := func() time.Time {
		stopOnce.Do(func() { stopBy = time.Now().Add(exitTimeout) })
		return stopBy
	}

	var g rungroup.Group
	{ // Shutdown trigger: SIGTERM/SIGINT (ctx) ends the group.
		cancel := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				logger.Info("shutting down: draining in-flight requests", "timeout", exitTimeout)
			case <-cancel:
			}
			return nil
		}, func(error) { close(cancel) })
	}
	{ // Models: load at start, unload (after draining) at the end.
		done := make(chan struct{})
		g.Add(func() error {
			if err := srv.Start(ctx); err != nil {
				logger.Error("some models failed to load", "err", err)
			}
			logger.Info("server started", "repository", opts.ModelRepository, "mode", opts.ModelControlMode.String(),
				"http", addrOf(hl), "grpc", addrOf(gl), "metrics", addrOf(ml), "took", time.Since(start).Round(time.Millisecond))
			<-done
			return nil
		}, func(error) {
			close(done)
		})
	}
	{ // Repository poller.
		pctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { return srv.Poll(pctx) }, func(error) { cancel() })
	}
	var servers []*http.Server
	if hl != nil {
		hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		g.Add(func() error { return serveHTTP(hs, hl) }, func(error) { shutdownHTTP(hs, deadline()) })
	}
	if gl != nil {
		gs := srv.GRPCServer()
		g.Add(func() error { return gs.Serve(gl) }, func(error) {
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			t := time.NewTimer(time.Until(deadline()))
			defer t.Stop()
			select {
			case <-done:
			case <-t.C:
				gs.Stop()
			}
		})
	}
	if ml != nil {
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ms)
		g.Add(func() error { return serveHTTP(ms, ml) }, func(error) { shutdownHTTP(ms, deadline()) })
	}
	if ready != nil {
		ready(addrOf(hl), addrOf(gl), addrOf(ml))
	}
	err = g.Run()
	// Every endpoint has stopped taking requests: unload the models once
	// what is left in their queues has run.
	sctx, cancel := context.WithDeadline(context.Background(), deadline())
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		logger.Error("shutdown", "err", serr)
	}
	logger.Info("server stopped")
	return err
}

func serveHTTP(s *http.Server, l net.Listener) error {
	if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func shutdownHTTP(s *http.Server, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if s.Shutdown(ctx) != nil {
		s.Close()
	}
}

func closeAll(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}
