// Command serve is the load test of inferd's model server. It starts a
// server on 127.0.0.1 (random ports) over a temporary model repository,
// drives it through its real HTTP and gRPC endpoints, and prints what it
// measured:
//
//   - overhead: p50 latency at concurrency 1 over gRPC (raw tensors),
//     HTTP with binary tensors and HTTP JSON, minus the p50 of the
//     engine's own time for the same input (Session.Run of a session in
//     the client process, same thread count; blocks of engine runs
//     alternate with blocks of requests), and the mean latency minus the
//     mean time the server's own session spent on those requests (from
//     its statistics); with -per-request, also the p50 of each request's
//     latency minus the engine time the server spent on that very request
//     (statistics read between requests: in a separate process over gRPC,
//     which perturbs the next request; use it in process). For comparison:
//     the in-process Manager.Infer (direct), empty round trips (grpc-live:
//     ServerLive, http-live: GET /v2/health/live) and echo servers on the
//     same stacks that read the same request bytes and answer with the
//     same response bytes without decoding or inference (grpc-echo,
//     http-echo; with -echo-busy D, also echo servers whose handler spins
//     for D): latency minus echo latency is what inferd's own code adds.
//     Two kinds of client: the standard Go ones (grpc-go's ClientConn,
//     net/http's Client), and lean ones that do what a C++ load generator
//     such as Triton's perf_analyzer does and no more (http-lean,
//     grpc-lean, and *-echo-lean against the echo servers): one
//     connection, the request built once and written in one write, the
//     response read and parsed on the calling goroutine, its bytes
//     checked against the standard client's response (see lean.go).
//     The server runs in this process by default; with -spawn in a
//     separate process (this binary with -serve-only, GOMAXPROCS from
//     -server-procs), with -both in both, clients interleaved (the
//     separate server's are named *@sep), and with -connect LINE against
//     a -serve-only process started by hand, whose serving line (the
//     addresses, the instance's threads, its GOMAXPROCS and pid) LINE
//     repeats. The client process's GOMAXPROCS is the GOMAXPROCS
//     environment variable's. perf_analyzer's configuration is the lean
//     client against a separate server process;
//   - batching: throughput at concurrency 16 with and without dynamic
//     batching;
//   - swap: failed requests while the model's version is swapped 20 times
//     under load (poll mode);
//   - memory: resident memory after 200 load/unload cycles against after
//     the first, unloaded and loaded, with the Go heap and goroutines.
//
// -model relu784 builds the one-node model the overhead figures quote
// (Relu on FP32 [N,784]: 3 KB in and out, engine about 1 µs, so its
// overhead is the server and the stacks alone). It is not run in CI. Run
// it on an otherwise idle machine, e.g.
//
//	go run ./bench/serve -model models/lenet/1/model.onnx -runs 5
//	go run ./bench/serve -model relu784 -tests overhead -runs 5 -n 1000 -both \
//	    -clients grpc,grpc-lean,http-binary,http-lean,grpc-echo,grpc-echo-lean,http-echo,http-echo-lean
//	go run ./bench/serve -model resnet18.onnx -tests overhead,batching -runs 3
//
// and quote the medians it prints; -cpuprofile (with -spawn: -server-args
// "-cpuprofile FILE" for the server process alone) and -memprofile write
// profiles. Only loopback addresses are used, and every loop is bounded in
// count and time.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/serve"
	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

func main() {
	model := flag.String("model", "models/lenet/1/model.onnx", "ONNX model with one FP32 input of variable batch dimension; \"relu784\": a one-node model (Relu on FP32 [N,784]) built on the fly")
	tests := flag.String("tests", "overhead,batching,swap,memory", "comma-separated tests to run")
	runs := flag.Int("runs", 3, "repetitions of each measurement; medians are reported")
	n := flag.Int("n", 300, "requests per overhead measurement")
	dur := flag.Duration("duration", 5*time.Second, "length of each throughput measurement")
	maxBatch := flag.Int("max-batch", 16, "max_batch_size for the batching test")
	delay := flag.Duration("queue-delay", 0, "max_queue_delay_microseconds for the batching test")
	conc := flag.Int("concurrency", 16, "concurrent clients in the batching test")
	swaps := flag.Int("swaps", 20, "version swaps in the swap test")
	cycles := flag.Int("cycles", 200, "load/unload cycles in the memory test")
	only := flag.String("clients", "", "comma-separated overhead clients to run (default: all of grpc, http-binary, http-json, direct, grpc-live, http-live, grpc-echo, http-echo)")
	block := flag.Int("block", 50, "overhead: engine runs and requests alternate in blocks of this many")
	perRequest := flag.Bool("per-request", false, "overhead: also subtract from each request's latency the engine time the server spent on that request (statistics read between requests)")
	echoBusy := flag.Duration("echo-busy", 0, "overhead: add grpc-echo-busy and http-echo-busy, echo servers whose handler keeps the CPU busy this long (the engine's time)")
	smaps := flag.String("smaps", "", "memory: copy /proc/self/smaps into this folder after each reported unload, to see which mappings grow")
	threads := flag.Int("threads", 0, "intra-op threads of the model instance and of the engine it is compared with (0: cores / instances)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	serveOnly := flag.Bool("serve-only", false, "start inferd's server and the echo servers, print their addresses on one line (\"serving grpc=… http=… …\") and serve until SIGINT or SIGTERM")
	connect := flag.String("connect", "", "overhead: drive the servers of a -serve-only process, given the words of its serving line (grpc=ADDR http=ADDR grpc-echo=ADDR http-echo=ADDR threads=N)")
	spawn := flag.Bool("spawn", false, "overhead: start this binary with -serve-only as a separate server process and drive it")
	both := flag.Bool("both", false, "overhead: drive a server in this process and one in a separate process (-spawn implied), clients interleaved; the separate one's clients are named *@sep")
	serverProcs := flag.Int("server-procs", 0, "with -spawn: GOMAXPROCS of the server process (0: the runtime's default)")
	serverArgs := flag.String("server-args", "", "with -spawn: more flags for the server process, e.g. \"-cpuprofile /tmp/server.prof\"")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file")
	flag.Parse()
	log.SetFlags(0)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				log.Fatal(err)
			}
		}()
	}
	b := &bench{model: *model, runs: *runs, only: *only, threads: *threads, block: max(1, *block), perRequest: *perRequest, echoBusy: *echoBusy, smaps: *smaps,
		connect: *connect, spawn: *spawn || *both, both: *both, serverProcs: *serverProcs, serverArgs: *serverArgs}
	if *model == "relu784" {
		path, err := relu784()
		if err != nil {
			log.Fatal(err)
		}
		defer os.Remove(path)
		b.model = path
	}
	if err := b.prepare(); err != nil {
		log.Fatal(err)
	}
	if *serveOnly {
		if err := b.serveOnly(); err != nil {
			log.Print(err)
		}
		return
	}
	fmt.Printf("model %s: input %q %v, %d cores (GOMAXPROCS %d)\n", *model, b.input, b.item, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	for _, t := range strings.Split(*tests, ",") {
		var err error
		switch t {
		case "overhead":
			err = b.overhead(*n)
		case "batching":
			err = b.batching(*dur, *maxBatch, *delay, *conc)
		case "swap":
			err = b.swap(*swaps)
		case "memory":
			err = b.memory(*cycles)
		default:
			err = fmt.Errorf("unknown test %q", t)
		}
		if err != nil {
			log.Printf("%s: %v", t, err)
			return
		}
	}
}

type bench struct {
	model   string
	runs    int
	only    string
	threads int
	block   int
	// perRequest reads the server's statistics around every request
	// (outside the timed span) to subtract each request's own engine time.
	perRequest bool
	echoBusy   time.Duration // handler time of the *-echo-busy clients
	smaps      string        // folder for /proc/self/smaps copies (memory test)
	// connect, spawn, serverProcs, serverArgs: the overhead test's
	// server in a separate process (see overhead.go).
	connect     string
	spawn, both bool
	serverProcs int
	serverArgs  string
	input       string
	output      string
	item        []int // input shape without the batch dimension
	data        []float32
}

func (b *bench) prepare() error {
	m, err := onnx.Load(b.model)
	if err != nil {
		return err
	}
	s, err := engine.Compile(m, engine.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.Inputs()) != 1 {
		return fmt.Errorf("the model has %d inputs; this bench feeds one", len(s.Inputs()))
	}
	in := s.Inputs()[0]
	b.input, b.output = in.Name, s.Outputs()[0].Name
	shape, ok := in.Type.Shape[1:].Static()
	if !ok || in.Type.DType != tensor.Float32 {
		return fmt.Errorf("input %q is %v: want FP32 with a variable first dimension only", in.Name, in.Type)
	}
	b.item = shape
	r := rand.New(rand.NewPCG(1, 2))
	b.data = make([]float32, tensor.NumElements(shape))
	for i := range b.data {
		b.data[i] = r.Float32()
	}
	return nil
}

// repo makes a temporary repository with the model as version 1.
func (b *bench) repo(config string) (string, error) {
	dir, err := os.MkdirTemp("", "inferd-bench-")
	if err != nil {
		return "", err
	}
	if err := b.addVersion(dir, 1); err != nil {
		return "", err
	}
	if b.threads > 0 {
		config += fmt.Sprintf("parameters { key: \"intra_op_thread_count\" value { string_value: \"%d\" } }\n", b.threads)
	}
	return dir, os.WriteFile(filepath.Join(dir, "m", "config.pbtxt"), []byte(config), 0o644)
}

func (b *bench) addVersion(repo string, v int) error {
	data, err := os.ReadFile(b.model)
	if err != nil {
		return err
	}
	d := filepath.Join(repo, "m", strconv.Itoa(v))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(repo, fmt.Sprintf(".v%d.tmp", v))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d, "model.onnx"))
}

// server is a running server and its clients.
type server struct {
	srv                *serve.Server
	httpAddr, grpcAddr string
	url                string
	grpc               kservepb.GRPCInferenceServiceClient
	stop               func()
}

func start(opts serve.Options) (*server, error) {
	srv, err := serve.NewServer(opts, nil, nil)
	if err != nil {
		return nil, err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv.HTTPHandler()}
	go hs.Serve(hl)
	go srv.GRPCServer().Serve(gl)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	go srv.Poll(ctx)
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		return nil, err
	}
	return &server{srv: srv, httpAddr: hl.Addr().String(), grpcAddr: gl.Addr().String(), url: "http://" + hl.Addr().String(), grpc: kservepb.NewGRPCInferenceServiceClient(conn), stop: func() {
		cancel()
		conn.Close()
		hs.Close()
		srv.GRPCServer().Stop()
		sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		srv.Shutdown(sctx)
	}}, nil
}

// client sends one kind of request.
type client struct {
	name string
	do   func() error
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// requests returns a batch's gRPC request, HTTP binary body and the
// length of that body's JSON header.
func (b *bench) requests(batch int) (*kservepb.ModelInferRequest, []byte, string) {
	x := make([]float32, 0, batch*len(b.data))
	for range batch {
		x = append(x, b.data...)
	}
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	shape := append([]int64{int64(batch)}, int64s(b.item)...)
	greq := &kservepb.ModelInferRequest{ModelName: "m",
		Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: b.input, Datatype: "FP32", Shape: shape}},
		RawInputContents: [][]byte{raw}}
	hdr, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": b.input, "shape": shape, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs": []any{map[string]any{"name": b.output, "parameters": map[string]any{"binary_data": true}}},
	})
	return greq, append(append([]byte{}, hdr...), raw...), strconv.Itoa(len(hdr))
}

// post sends an inference request body; header is the binary extension's
// header length ("" for JSON).
func post(url string, body []byte, header string) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if header != "" {
		req.Header.Set(serve.HeaderContentLength, header)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%d %s", resp.StatusCode, out)
	}
	return nil
}

func (b *bench) clients(s *server, batch int) []client {
	greq, binBody, hdr := b.requests(batch)
	x := make([]float32, 0, batch*len(b.data))
	for range batch {
		x = append(x, b.data...)
	}
	shape := append([]int64{int64(batch)}, int64s(b.item)...)
	jsonBody, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": b.input, "shape": shape, "datatype": "FP32", "data": x}}})
	url := s.url + "/v2/models/m/infer"
	return []client{
		{"grpc", func() error { _, err := s.grpc.ModelInfer(context.Background(), greq); return err }},
		{"http-binary", func() error { return post(url, binBody, hdr) }},
		{"http-json", func() error { return post(url, jsonBody, "") }},
	}
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianF(f []float64) float64 {
	s := slices.Clone(f)
	slices.Sort(s)
	return s[len(s)/2]
}

func meanD(d []time.Duration) float64 {
	var t time.Duration
	for _, x := range d {
		t += x
	}
	return float64(t) / float64(len(d)) / 1e3
}

// throughput runs conc workers for d and returns requests per second.
func throughput(c client, conc int, d time.Duration) (float64, int64, error) {
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := c.do(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil && ok.Load() == 0 {
		return 0, failed.Load(), fmt.Errorf("%v", e)
	}
	return float64(ok.Load()) / d.Seconds(), failed.Load(), nil
}

// batching compares throughput at concurrency 16 with and without
// dynamic batching (one instance, all cores, gRPC).
func (b *bench) batching(d time.Duration, maxBatch int, delay time.Duration, conc int) error {
	fmt.Printf("\n== batching: gRPC, concurrency %d, %v per run, %d runs, one instance, max_batch_size %d, max_queue_delay %v\n", conc, d, b.runs, maxBatch, delay)
	configs := []struct{ name, cfg string }{
		{"no batching", fmt.Sprintf("max_batch_size: %d\n", maxBatch)},
		{"dynamic batching", fmt.Sprintf("max_batch_size: %d\ndynamic_batching { max_queue_delay_microseconds: %d }\n", maxBatch, delay.Microseconds())},
	}
	rates := map[string][]float64{}
	for run := range b.runs {
		for _, c := range configs {
			repo, err := b.repo(c.cfg)
			if err != nil {
				return err
			}
			s, err := start(serve.Options{ModelRepository: repo})
			if err != nil {
				return err
			}
			cl := b.clients(s, 1)[0]
			throughput(cl, conc, d/5) // warm-up
			r, failed, err := throughput(cl, conc, d)
			st, _ := s.srv.Manager().Stats("m", 0)
			s.stop()
			os.RemoveAll(repo)
			if err != nil {
				return err
			}
			avg := 0.0
			if len(st) > 0 && st[0].ExecutionCount > 0 {
				avg = float64(st[0].InferenceCount) / float64(st[0].ExecutionCount)
			}
			rates[c.name] = append(rates[c.name], r)
			fmt.Printf("  run %d %-16s %8.1f req/s  (%d failed, mean batch %.1f)\n", run+1, c.name, r, failed, avg)
		}
	}
	no, dyn := medianF(rates["no batching"]), medianF(rates["dynamic batching"])
	fmt.Printf("  median: no batching %.1f req/s, dynamic batching %.1f req/s: %.2fx\n", no, dyn, dyn/no)
	return nil
}

// swap swaps the model's version under load and counts failed requests.
func (b *bench) swap(swaps int) error {
	repo, err := b.repo("max_batch_size: 16\ndynamic_batching {}\n")
	if err != nil {
		return err
	}
	defer os.RemoveAll(repo)
	s, err := start(serve.Options{ModelRepository: repo, ModelControlMode: serve.ModePoll, PollInterval: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	defer s.stop()
	fmt.Printf("\n== swap: %d version swaps under load (8 workers, gRPC and HTTP binary), poll every 50ms\n", swaps)
	cs := b.clients(s, 1)
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		c := cs[w%2]
		wg.Go(func() {
			for range 1_000_000 {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.do(); err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				} else {
					ok.Add(1)
				}
			}
		})
	}
	t0 := time.Now()
	for v := 2; v <= swaps+1; v++ {
		if err := b.addVersion(repo, v); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			md, err := s.srv.Manager().Metadata("m", 0)
			if err == nil && slices.Equal(md.Versions, []string{strconv.Itoa(v)}) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("version %d not served within 30s", v)
			}
			time.Sleep(5 * time.Millisecond)
		}
		os.RemoveAll(filepath.Join(repo, "m", strconv.Itoa(v-1)))
	}
	el := time.Since(t0)
	close(stop)
	wg.Wait()
	fmt.Printf("  %d swaps in %v: %d requests succeeded, %d failed", swaps, el.Round(time.Millisecond), ok.Load(), failed.Load())
	if e := lastErr.Load(); e != nil {
		fmt.Printf(" (last error: %v)", e)
	}
	fmt.Println()
	return nil
}

// memory loads and unloads the model repeatedly and compares resident
// memory after the first and the last cycle.
func (b *bench) memory(cycles int) error {
	repo, err := b.repo("max_batch_size: 16\ndynamic_batching {}\ninstance_group [ { count: 2 } ]\n")
	if err != nil {
		return err
	}
	defer os.RemoveAll(repo)
	s, err := start(serve.Options{ModelRepository: repo, ModelControlMode: serve.ModeExplicit})
	if err != nil {
		return err
	}
	defer s.stop()
	fmt.Printf("\n== memory: %d load/unload cycles (2 instances), one request per cycle\n", cycles)
	ctx := context.Background()
	c := b.clients(s, 1)[0]
	var first, last uint64
	for i := range cycles {
		if err := s.srv.Manager().Load(ctx, "m"); err != nil {
			return err
		}
		if err := c.do(); err != nil {
			return err
		}
		report := i == 0 || i == cycles-1 || (i+1)%max(1, cycles/5) == 0
		var loaded uint64
		if report {
			runtime.GC()
			debug.FreeOSMemory()
			loaded = residentBytes()
		}
		if err := s.srv.Manager().Unload(ctx, "m"); err != nil {
			return err
		}
		if report {
			runtime.GC()
			debug.FreeOSMemory()
			rss := residentBytes()
			if i == 0 {
				first = rss
			}
			if b.smaps != "" {
				if data, err := os.ReadFile("/proc/self/smaps"); err == nil {
					os.WriteFile(filepath.Join(b.smaps, fmt.Sprintf("smaps.%03d", i+1)), data, 0o644)
				}
			}
			last = rss
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
			fmt.Printf("  cycle %3d: resident %.1f MiB loaded, after unload %.1f MiB (anonymous %.1f, file %.1f; Go heap in use %.1f MiB, mapped and not released %.1f MiB, runtime metadata %.1f MiB; %d goroutines)\n",
				i+1, mib(loaded), mib(rss), mib(procStatus("RssAnon:")), mib(procStatus("RssFile:")), mib(ms.HeapInuse), mib(ms.HeapSys-ms.HeapReleased),
				mib(ms.GCSys+ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys+ms.OtherSys+ms.StackSys), runtime.NumGoroutine())
		}
	}
	fmt.Printf("  resident memory after cycle 1: %.1f MiB, after cycle %d: %.1f MiB (%+.1f%%)\n",
		float64(first)/(1<<20), cycles, float64(last)/(1<<20), 100*(float64(last)/float64(first)-1))
	return nil
}

// residentBytes reads VmRSS from /proc/self/status (0 where there is none).
func residentBytes() uint64 { return procStatus("VmRSS:") }

// procStatus reads a size field of /proc/self/status (0 where there is
// none): VmRSS, RssAnon (heap, stacks), RssFile (the mapped binary).
func procStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
