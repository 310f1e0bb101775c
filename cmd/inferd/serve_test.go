package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveFlagsFor parses serve flags as the command line would.
func serveFlagsFor(t *testing.T, args ...string) serveFlags {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs inferd serve on the example repository at random
// loopback ports, checks each endpoint answers, and stops it as SIGTERM
// would.
func TestServe(t *testing.T) {
	f := serveFlagsFor(t, "--model-repository", "../../models", "--http-address", "127.0.0.1", "--grpc-address", "127.0.0.1",
		"--metrics-address", "127.0.0.1", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--exit-timeout-secs", "5", "--log-format", "json")
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [3]net.Addr, 1)
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, f, &logs, func(h, g, m net.Addr) { addrs <- [3]net.Addr{h, g, m} })
	}()
	var a [3]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	}
	base := "http://" + a[0].String()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(base + "/v2/health/ready"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 10s\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get(base + "/v2/models/lenet"); code != 200 || !strings.Contains(body, `"name":"lenet"`) {
		t.Errorf("model metadata: %d %s", code, body)
	}
	if code, body := get("http://" + a[2].String() + "/metrics"); code != 200 || !strings.Contains(body, "inferd_model_loads_total") {
		t.Errorf("metrics: %d", code)
	}
	if c, err := net.Dial("tcp", a[1].String()); err != nil {
		t.Errorf("gRPC port: %v", err)
	} else {
		c.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of the signal")
	}
	for _, want := range []string{`"msg":"loaded","model":"lenet"`, `"msg":"server started"`, `"msg":"server stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

// TestServeStartsFast: with no models the server is ready well under a
// second.
func TestServeStartsFast(t *testing.T) {
	f := serveFlagsFor(t, "--model-repository", t.TempDir(), "--http-address", "127.0.0.1", "--http-port", "0",
		"--allow-grpc=false", "--allow-metrics=false")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, f, io.Discard, func(h, _, _ net.Addr) { addrs <- h }) }()
	h := <-addrs
	for {
		resp, err := http.Get("http://" + h.String() + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("not ready in 5s")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("ready after %v", time.Since(start))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--model-control-mode", "auto"}, `model control mode "auto": want none, poll or explicit`},
		{[]string{"serve", "--repository-poll-secs", "0"}, "--repository-poll-secs 0: want at least 1"},
		{[]string{"serve", "--http-port", "70000"}, "--http-port 70000: not a port"},
		{[]string{"serve", "--model-repository", "/nonexistent/models"}, "model repository: stat /nonexistent/models"},
		{[]string{"serve", "--log-format", "xml"}, `--log-format "xml": want text or json`},
		{[]string{"serve", "--load-model", "lenet"}, "models to load at start-up are given, but the model control mode is none"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"config", "generate"}, "want one MODEL argument"},
		{[]string{"config", "make", "x"}, "usage: inferd config generate MODEL"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("inferd %s: exit %d, stderr %q, want it to contain %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

func TestConfigGenerate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"config", "generate", "../../models/lenet"}, []string{`name: "lenet"`, "max_batch_size: 4", "dims: [ 1, 28, 28 ]", "dynamic_batching {"}},
		{[]string{"config", "generate", exampleModel, "--max-batch-size", "16"}, []string{`name: "lenet"`, "max_batch_size: 16", "dims: [ 10 ]"}},
		{[]string{"config", "generate", exampleModel, "--max-batch-size", "0", "--name", "digits"}, []string{`name: "digits"`, "dims: [ -1, 1, 28, 28 ]"}},
	} {
		stdout, stderr, code := run(t, tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	stdout, _, _ := run(t, "config", "generate", exampleModel, "--max-batch-size", "0")
	if strings.Contains(stdout, "max_batch_size") || strings.Contains(stdout, "dynamic_batching") {
		t.Errorf("--max-batch-size 0 still batches:\n%s", stdout)
	}
}
