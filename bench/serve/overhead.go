package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/serve"
	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

// relu784 writes the one-node model the overhead figures use (Relu on
// FP32 [N,784], as serve's BenchmarkServeInfer*) to a temporary file.
func relu784() (string, error) {
	vi := func(name string) *ir.ValueInfo {
		return &ir.ValueInfo{Name: name, Type: ir.TensorType(tensor.Float32, ir.Shape{{Value: -1, Param: "N"}, {Value: 784}})}
	}
	g := &ir.Graph{Name: "relu", Inputs: []*ir.ValueInfo{vi("input")}, Outputs: []*ir.ValueInfo{vi("output")},
		Nodes: []*ir.Node{{Name: "relu", OpType: "Relu", Inputs: []string{"input"}, Outputs: []string{"output"}}}}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	f, err := os.CreateTemp("", "relu784-*.onnx")
	if err != nil {
		return "", err
	}
	f.Close()
	return f.Name(), onnx.Save(f.Name(), m, onnx.SaveOptions{})
}

// endpoints names what the overhead test drives: inferd's "grpc" and
// "http", the echo servers "grpc-echo" and "http-echo" (and
// "grpc-echo-busy", "http-echo-busy" with -echo-busy), and the server
// model instance's "threads".
type endpoints map[string]string

func (ep endpoints) String() string {
	var w []string
	for _, k := range []string{"grpc", "http", "grpc-echo", "http-echo", "grpc-echo-busy", "http-echo-busy", "threads", "gomaxprocs", "pid"} {
		if v, ok := ep[k]; ok {
			w = append(w, k+"="+v)
		}
	}
	return strings.Join(w, " ")
}

func parseEndpoints(s string) (endpoints, error) {
	ep := endpoints{}
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(s), "serving")) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("endpoint %q is not NAME=ADDR", f)
		}
		ep[k] = v
	}
	if ep["grpc"] == "" || ep["http"] == "" {
		return nil, fmt.Errorf("%q names no grpc= and http= addresses", s)
	}
	return ep, nil
}

// serveSide starts inferd's server over a repository of the model and
// the echo servers in this process.
func (b *bench) serveSide() (*server, endpoints, func(), error) {
	repo, err := b.repo("max_batch_size: 16\ndynamic_batching {}\n")
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := start(serve.Options{ModelRepository: repo})
	if err != nil {
		os.RemoveAll(repo)
		return nil, nil, nil, err
	}
	stops := []func(){func() { os.RemoveAll(repo) }, s.stop}
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	threads := runtime.GOMAXPROCS(0)
	if b.threads > 0 {
		threads = b.threads
	}
	ep := endpoints{"grpc": s.grpcAddr, "http": s.httpAddr, "threads": strconv.Itoa(threads),
		"gomaxprocs": strconv.Itoa(runtime.GOMAXPROCS(0)), "pid": strconv.Itoa(os.Getpid())}
	busy := []time.Duration{0}
	if b.echoBusy > 0 {
		busy = append(busy, b.echoBusy)
	}
	for _, d := range busy {
		e, err := startEcho(s, b, d)
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		stops = append(stops, e.stop)
		suffix := ""
		if d > 0 {
			suffix = "-busy"
		}
		ep["grpc-echo"+suffix], ep["http-echo"+suffix] = e.grpcAddr, e.httpAddr
	}
	return s, ep, stop, nil
}

// serveOnly serves until SIGINT or SIGTERM, after printing the serving
// line that -connect takes.
func (b *bench) serveOnly() error {
	_, ep, stop, err := b.serveSide()
	if err != nil {
		return err
	}
	defer stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("serving %s\n", ep)
	<-sig
	return nil
}

// spawnServer starts this binary with -serve-only and reads its serving
// line; stop ends it with SIGTERM (so its profiles are written).
func (b *bench) spawnServer() (endpoints, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	args := []string{"-serve-only", "-model", b.model, "-threads", strconv.Itoa(b.threads)}
	if b.echoBusy > 0 {
		args = append(args, "-echo-busy", b.echoBusy.String())
	}
	args = append(args, strings.Fields(b.serverArgs)...)
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if b.serverProcs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(b.serverProcs))
	}
	cmd.Stderr = os.Stderr
	// The server goes when this process goes, even through log.Fatal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	rd := bufio.NewReader(out)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("server process: no serving line: %v", err)
		}
		if strings.HasPrefix(line, "serving ") {
			go io.Copy(os.Stdout, rd)
			ep, err := parseEndpoints(line)
			if err != nil {
				stop()
				return nil, nil, err
			}
			return ep, stop, nil
		}
	}
}

// snapshot is the server's cumulative statistics of the model.
type snapshot struct{ count, managerNs, engineNs uint64 }

// overheadClients returns the clients of the overhead test against ep
// (srv: the server when it runs in this process, else nil) and a reader
// of the server's statistics.
func (b *bench) overheadClients(ep endpoints, srv *serve.Server, feeds map[string]*tensor.Tensor) ([]client, func() snapshot, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	fail := func(err error) ([]client, func() snapshot, func(), error) {
		closeAll()
		return nil, nil, nil, err
	}
	dialGRPC := func(addr string) (kservepb.GRPCInferenceServiceClient, error) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { conn.Close() })
		return kservepb.NewGRPCInferenceServiceClient(conn), nil
	}
	greq, binBody, hdr := b.requests(1)
	shape := append([]int64{1}, int64s(b.item)...)
	jsonBody, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": b.input, "shape": shape, "datatype": "FP32", "data": b.data}}})
	const path = "/v2/models/m/infer"
	var cs []client
	// lean adds a lean client for the HTTP server at addr, checked
	// against the first response of the standard client.
	lean := func(name, addr string) error {
		want, wantHdr, err := postBody("http://"+addr+path, binBody, hdr)
		if err != nil {
			return err
		}
		l, err := dialLean(addr, path, binBody, hdr, want, wantHdr)
		if err != nil {
			return err
		}
		closers = append(closers, func() { l.conn.Close() })
		cs = append(cs, client{name, l.do})
		return nil
	}
	// leanG adds a lean gRPC client for the server at addr, checked
	// against the response of the standard client gc.
	leanG := func(name, addr string, gc kservepb.GRPCInferenceServiceClient) error {
		want, err := gc.ModelInfer(context.Background(), greq)
		if err != nil {
			return err
		}
		l, err := dialLeanGRPC(addr, greq, want)
		if err != nil {
			return err
		}
		closers = append(closers, func() { l.conn.Close() })
		cs = append(cs, client{name, l.do})
		return nil
	}
	for _, suffix := range []string{"", "-echo", "-echo-busy"} {
		gaddr, haddr := ep["grpc"+suffix], ep["http"+suffix]
		if gaddr == "" {
			continue
		}
		gc, err := dialGRPC(gaddr)
		if err != nil {
			return fail(err)
		}
		url := "http://" + haddr + path
		if suffix == "" {
			cs = append(cs,
				client{"grpc", func() error { _, err := gc.ModelInfer(context.Background(), greq); return err }},
				client{"http-binary", func() error { return post(url, binBody, hdr) }},
				client{"http-json", func() error { return post(url, jsonBody, "") }},
			)
			if err := lean("http-lean", haddr); err != nil {
				return fail(err)
			}
			if err := leanG("grpc-lean", gaddr, gc); err != nil {
				return fail(err)
			}
			if srv != nil {
				direct := &serve.InferRequest{Model: "m", Inputs: []serve.Tensor{{Name: b.input, Tensor: feeds[b.input]}}}
				cs = append(cs, client{"direct", func() error { _, err := srv.Manager().Infer(context.Background(), direct); return err }})
			}
			cs = append(cs,
				client{"grpc-live", func() error {
					_, err := gc.ServerLive(context.Background(), &kservepb.ServerLiveRequest{})
					return err
				}},
				client{"http-live", func() error {
					resp, err := httpClient.Get("http://" + haddr + "/v2/health/live")
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					return resp.Body.Close()
				}},
			)
			continue
		}
		cs = append(cs,
			client{"grpc" + suffix, func() error { _, err := gc.ModelInfer(context.Background(), greq); return err }},
			client{"http" + suffix, func() error { return post(url, binBody, hdr) }},
		)
		if err := lean("http"+suffix+"-lean", haddr); err != nil {
			return fail(err)
		}
		if err := leanG("grpc"+suffix+"-lean", gaddr, gc); err != nil {
			return fail(err)
		}
	}
	if b.only != "" {
		keep := strings.Split(b.only, ",")
		cs = slices.DeleteFunc(cs, func(c client) bool { return !slices.Contains(keep, c.name) })
		if len(cs) == 0 {
			return fail(fmt.Errorf("-clients %s: none of these here", b.only))
		}
	}
	var stats func() snapshot
	if srv != nil {
		stats = func() snapshot {
			st, err := srv.Manager().Stats("m", 0)
			if err != nil || len(st) == 0 {
				log.Fatal("statistics: ", err)
			}
			s := st[0].InferenceStats
			return snapshot{s.Success.Count, s.Success.Ns, s.ComputeInfer.Ns}
		}
	} else {
		// Over a connection of its own, outside the timed spans.
		gc, err := dialGRPC(ep["grpc"])
		if err != nil {
			return fail(err)
		}
		stats = func() snapshot {
			r, err := gc.ModelStatistics(context.Background(), &kservepb.ModelStatisticsRequest{Name: "m"})
			if err != nil || len(r.ModelStats) == 0 {
				log.Fatal("statistics: ", err)
			}
			s := r.ModelStats[0].InferenceStats
			return snapshot{s.Success.Count, s.Success.Ns, s.ComputeInfer.Ns}
		}
	}
	return cs, stats, closeAll, nil
}

// postBody sends a binary-extension inference request with the standard
// client and returns the response body and its JSON header's length.
func postBody(url string, body []byte, header string) ([]byte, int, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(string(body)))
	req.Header.Set(serve.HeaderContentLength, header)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != 200 {
		return nil, 0, fmt.Errorf("%d %s", resp.StatusCode, out)
	}
	h, err := strconv.Atoi(resp.Header.Get(serve.HeaderContentLength))
	if err != nil {
		return nil, 0, fmt.Errorf("response %s: %v", serve.HeaderContentLength, err)
	}
	return out, h, nil
}

// overhead measures latency at concurrency 1 minus the engine's time.
func (b *bench) overhead(n int) error {
	m, err := onnx.Load(b.model)
	if err != nil {
		return err
	}
	// A target is a server and the suffix of its clients' names.
	type target struct {
		suffix, mode string
		ep           endpoints
		srv          *serve.Server
	}
	var targets []target
	if b.spawn || b.connect != "" {
		var ep endpoints
		if b.spawn {
			var stop func()
			ep, stop, err = b.spawnServer()
			if err != nil {
				return err
			}
			defer stop()
		} else if ep, err = parseEndpoints(b.connect); err != nil {
			return err
		}
		targets = append(targets, target{"", "server in a separate process", ep, nil})
	}
	if !b.spawn && b.connect == "" || b.both {
		s, ep, stop, err := b.serveSide()
		if err != nil {
			return err
		}
		defer stop()
		targets = append(targets, target{"", "server in this process", ep, s.srv})
		if b.both {
			targets[0].suffix = "@sep"
		}
	}
	ep := targets[0].ep
	threads := runtime.GOMAXPROCS(0)
	if t, err := strconv.Atoi(ep["threads"]); err == nil && t > 0 {
		threads = t
	}
	if b.threads > 0 {
		threads = b.threads
	}
	sess, err := engine.Compile(m, engine.Options{Threads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	feeds := map[string]*tensor.Tensor{b.input: tensor.FromSlice(b.data, append([]int{1}, b.item...)...)}
	engineRun := func() time.Duration {
		t0 := time.Now()
		if _, err := sess.Run(context.Background(), feeds); err != nil {
			log.Fatal(err)
		}
		return time.Since(t0)
	}
	var cs []client
	stats := map[string]func() snapshot{}
	fmt.Printf("\n== overhead: latency at concurrency 1, batch 1, %d requests per run, %d runs (medians; engine: Session.Run, %d threads, in the client process)\n", n, b.runs, threads)
	for _, t := range targets {
		tc, st, closeClients, err := b.overheadClients(t.ep, t.srv, feeds)
		if err != nil {
			return err
		}
		defer closeClients()
		for _, c := range tc {
			c.name += t.suffix
			cs = append(cs, c)
			stats[c.name] = st
		}
		fmt.Printf("   clients *%s: %s: %s\n", t.suffix, t.mode, t.ep)
	}
	fmt.Printf("   client process GOMAXPROCS %d\n", runtime.GOMAXPROCS(0))
	results := map[string][]float64{}
	engineMeds := []float64{}
	for run := range b.runs {
		// Interleave engine and server measurements so drift hits both.
		for _, c := range cs {
			for range min(20, n) { // warm-up
				if err := c.do(); err != nil {
					return fmt.Errorf("%s: %v", c.name, err)
				}
			}
			var lat, eng, own, outside []time.Duration
			served := !strings.Contains(c.name, "-live") && !strings.Contains(c.name, "echo")
			statNs := stats[c.name]
			before := statNs()
			// Blocks of back-to-back engine runs and back-to-back requests
			// alternate, so drift hits both while each is timed in its own
			// steady state (as inferd bench and perf_analyzer time them);
			// -block 1 interleaves single runs.
			for len(lat) < n {
				k := min(b.block, n-len(lat))
				for range k {
					eng = append(eng, engineRun())
				}
				for range k {
					var s0 snapshot
					if b.perRequest && served {
						s0 = statNs()
					}
					t0 := time.Now()
					if err := c.do(); err != nil {
						return fmt.Errorf("%s: %v", c.name, err)
					}
					d := time.Since(t0)
					lat = append(lat, d)
					if b.perRequest && served {
						s1 := statNs()
						own = append(own, d-time.Duration(s1.engineNs-s0.engineNs))
						outside = append(outside, d-time.Duration(s1.managerNs-s0.managerNs))
					}
				}
			}
			l, e := median(lat), median(eng)
			if len(own) > 0 {
				results[c.name+" own"] = append(results[c.name+" own"], float64(median(own))/1e3)
				results[c.name+" outside"] = append(results[c.name+" outside"], float64(median(outside))/1e3)
				fmt.Printf("  run %d %-14s per request: p50 of (latency − its own engine time) %.1f µs, p50 of (latency − its time in the model manager) %.1f µs\n",
					run+1, c.name, float64(median(own))/1e3, float64(median(outside))/1e3)
			}
			after := statNs()
			// The second estimate needs no standalone engine: the mean
			// latency of these requests minus the mean time the server's
			// own session spent in them (compute_infer), so the engine's
			// variance cancels out. It leaves out any slowdown of the
			// engine inside the server (caches the protocol stacks evict).
			srvOver := math.NaN()
			if d := after.count - before.count; d > 0 && served {
				in := float64(after.managerNs-before.managerNs) / float64(d) / 1e3
				comp := float64(after.engineNs-before.engineNs) / float64(d) / 1e3
				srvOver = meanD(lat) - comp
				fmt.Printf("  run %d %-14s server-side means: in model manager %.1f µs, of which engine %.1f µs; mean latency − mean server engine %.1f µs\n", run+1, c.name, in, comp, srvOver)
			}
			results[c.name] = append(results[c.name], float64(l-e)/1e3)
			results[c.name+" latency"] = append(results[c.name+" latency"], float64(l)/1e3)
			results[c.name+" server"] = append(results[c.name+" server"], srvOver)
			engineMeds = append(engineMeds, float64(e)/1e3)
			fmt.Printf("  run %d %-14s latency p50 %8.1f µs (p10 %.1f, p90 %.1f)  engine p50 %8.1f µs  overhead %7.1f µs\n", run+1, c.name,
				float64(l)/1e3, float64(quantile(lat, 0.1))/1e3, float64(quantile(lat, 0.9))/1e3, float64(e)/1e3, float64(l-e)/1e3)
		}
	}
	fmt.Printf("  median engine time %.1f µs (direct: Manager.Infer in process; *-live: protocol round trip without inference, *-echo*: echo servers; overhead columns meaningless for these)\n", medianF(engineMeds))
	for _, c := range cs {
		fmt.Printf("  %-14s median latency %8.1f µs, median overhead %7.1f µs (p50 latency − p50 engine); mean latency − mean server engine %7.1f µs",
			c.name, medianF(results[c.name+" latency"]), medianF(results[c.name]), medianF(results[c.name+" server"]))
		if r := results[c.name+" own"]; len(r) > 0 {
			fmt.Printf("; per request: latency − own engine %.1f µs, latency − manager %.1f µs", medianF(r), medianF(results[c.name+" outside"]))
		}
		fmt.Println()
	}
	return nil
}
