package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/inferd/inferd/serve/kservepb"
)

func lenetRequest(t *testing.T, n int) []byte {
	return mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{n, 1, 28, 28}, "datatype": "FP32", "data": digit(n)}}})
}

// TestBatching: many concurrent requests run as fewer, larger executions,
// visible in the statistics and the metrics.
func TestBatching(t *testing.T) {
	ts := startServer(t, Options{ModelRepository: lenetRepo(t, `
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 20000 preferred_batch_size: [ 8 ] }
`)})
	const n = 32
	body := lenetRequest(t, 1)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := http.Post(ts.url+"/v2/models/lenet/infer", "application/json", strings.NewReader(string(body)))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	_, b, _ := ts.do(t, "GET", "/v2/models/lenet/stats", nil)
	var st struct {
		ModelStats []modelStats `json:"model_stats"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	s := st.ModelStats[0]
	if s.InferenceCount != n || s.InferenceStats.Success.Count != n {
		t.Fatalf("stats %s", b)
	}
	if s.ExecutionCount >= n/2 {
		t.Errorf("%d requests ran in %d executions: want batches (stats %s)", n, s.ExecutionCount, b)
	}
	largest := uint64(0)
	for _, bs := range s.BatchStats {
		largest = max(largest, bs.BatchSize)
	}
	if largest < 4 {
		t.Errorf("largest batch %d, want ≥ 4: %s", largest, b)
	}
	resp, err := http.Get(ts.metrics)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`inferd_batch_size_bucket{model="lenet",version="1",le="8"} ` + fmt.Sprint(s.ExecutionCount),
		`inferd_request_success_total{model="lenet",version="1"} 32`,
		`inferd_inference_count_total{model="lenet",version="1"} 32`,
		`inferd_request_duration_seconds_bucket{model="lenet",version="1"`,
		`inferd_queue_duration_seconds_count{model="lenet",version="1"} 32`,
		`inferd_compute_duration_seconds_count{model="lenet",version="1"} ` + fmt.Sprint(s.ExecutionCount),
		`inferd_pending_requests{model="lenet",version="1"} 0`,
		`inferd_inflight_requests{model="lenet",version="1"} 0`,
		`inferd_model_load_duration_seconds{model="lenet",version="1"}`,
		`inferd_model_loads_total{model="lenet",result="success"} 1`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// load sends requests from a few goroutines until stop is closed (at most
// 20000 each) and counts failures.
type load struct {
	ok, failed atomic.Int64
	versions   sync.Map
	lastErr    atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, ts *testServer, workers int) *load {
	l := &load{stop: make(chan struct{})}
	body := lenetRequest(t, 1)
	for w := range workers {
		l.wg.Go(func() {
			for range 20000 {
				select {
				case <-l.stop:
					return
				default:
				}
				if w%2 == 0 {
					resp, err := http.Post(ts.url+"/v2/models/lenet/infer", "application/json", strings.NewReader(string(body)))
					if err != nil {
						l.failed.Add(1)
						l.lastErr.Store(err.Error())
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						l.failed.Add(1)
						l.lastErr.Store(string(b))
						continue
					}
					var r inferResponseJSON
					json.Unmarshal(b, &r)
					l.versions.Store(r.ModelVersion, true)
				} else {
					r, err := ts.grpc.ModelInfer(context.Background(), &kservepb.ModelInferRequest{ModelName: "lenet",
						Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}}},
						RawInputContents: [][]byte{f32bytes(digit(1))}})
					if err != nil {
						l.failed.Add(1)
						l.lastErr.Store(err.Error())
						continue
					}
					l.versions.Store(r.ModelVersion, true)
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

func (l *load) finish() { close(l.stop); l.wg.Wait() }

func index(t *testing.T, ts *testServer) []IndexEntry {
	t.Helper()
	_, b, _ := ts.do(t, "POST", "/v2/repository/index", nil)
	var idx []IndexEntry
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return idx
}

func servedVersion(t *testing.T, ts *testServer) string {
	t.Helper()
	status, b, _ := ts.do(t, "POST", "/v2/models/lenet/infer", lenetRequest(t, 1))
	if status != 200 {
		return fmt.Sprintf("error %d %s", status, b)
	}
	var r inferResponseJSON
	json.Unmarshal(b, &r)
	return r.ModelVersion
}

// TestPollReload: in poll mode a new version is loaded, warmed up and
// takes over without failing a request; a broken version or config
// leaves the serving version in place and shows in the index.
func TestPollReload(t *testing.T) {
	repo := lenetRepo(t, lenetConfig)
	ts := startServer(t, Options{ModelRepository: repo, ModelControlMode: ModePoll, PollInterval: 20 * time.Millisecond})
	l := startLoad(t, ts, 4)

	addModel(t, repo, "lenet", 2, lenetPath)
	waitFor(t, func() bool { return servedVersion(t, ts) == "2" })

	// A broken version 3: version 2 keeps serving, the index says why.
	writeFile(t, filepath.Join(repo, "lenet", "3", "model.onnx"), []byte("not a model"))
	waitFor(t, func() bool {
		for _, e := range index(t, ts) {
			if e.Version == "3" && e.State == StateUnavailable && strings.Contains(e.Reason, "malformed ONNX model") {
				return true
			}
		}
		return false
	})
	if v := servedVersion(t, ts); v != "2" {
		t.Errorf("after a broken version 3, served %q, want 2", v)
	}
	if status, _, _ := ts.do(t, "GET", "/v2/health/ready", nil); status != 200 {
		t.Errorf("server not ready with version 2 serving")
	}
	if status, b, _ := ts.do(t, "GET", "/v2/models/lenet/versions/3/ready", nil); status != 503 {
		t.Errorf("version 3 ready: %d %s", status, b)
	}
	_, b, _ := ts.do(t, "POST", "/v2/models/lenet/versions/3/infer", lenetRequest(t, 1))
	if !strings.Contains(string(b), "version 3 is not ready (UNAVAILABLE") {
		t.Errorf("infer on broken version 3: %s", b)
	}

	// Fixed: version 3 serves.
	addModel(t, repo, "lenet", 3, lenetPath)
	waitFor(t, func() bool { return servedVersion(t, ts) == "3" })

	// A broken config: version 3 keeps serving.
	writeFile(t, filepath.Join(repo, "lenet", ConfigFile), []byte("max_batch_size: -4"))
	waitFor(t, func() bool {
		for _, e := range index(t, ts) {
			if e.Version == "" && strings.Contains(e.Reason, "max_batch_size -4") {
				return true
			}
		}
		return false
	})
	if v := servedVersion(t, ts); v != "3" {
		t.Errorf("after a broken config, served %q, want 3", v)
	}
	// A good config change reloads the version with it.
	writeFile(t, filepath.Join(repo, "lenet", ConfigFile), []byte("max_batch_size: 4\ndynamic_batching {}\nversion_policy { all {} }"))
	waitFor(t, func() bool {
		_, b, _ := ts.do(t, "GET", "/v2/models/lenet", nil)
		return strings.Contains(string(b), `"versions":["1","2","3"]`)
	})
	l.finish()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during reloads; last: %v", n, n+l.ok.Load(), l.lastErr.Load())
	}
	t.Logf("%d requests during reloads", l.ok.Load())

	// The model folder removed: unloaded.
	if err := os.RemoveAll(filepath.Join(repo, "lenet")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		status, _, _ := ts.do(t, "POST", "/v2/models/lenet/infer", lenetRequest(t, 1))
		return status == 404
	})
}

// TestExplicitLoadUnload drives the repository API in explicit mode.
func TestExplicitLoadUnload(t *testing.T) {
	repo := lenetRepo(t, lenetConfig)
	writeMixedModel(t, filepath.Join(repo, "mixed", "1", "model.onnx"))
	ts := startServer(t, Options{ModelRepository: repo, ModelControlMode: ModeExplicit, LoadModels: []string{"lenet"}})
	idx := index(t, ts)
	if len(idx) != 2 || idx[0] != (IndexEntry{Name: "lenet", Version: "1", State: StateReady}) || idx[1] != (IndexEntry{Name: "mixed"}) {
		t.Fatalf("index %+v", idx)
	}
	if status, b, _ := ts.do(t, "POST", "/v2/models/mixed/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`)); status != 404 {
		t.Errorf("mixed before load: %d %s", status, b)
	}
	if status, b, _ := ts.do(t, "POST", "/v2/repository/models/mixed/load", nil); status != 200 {
		t.Fatalf("load: %d %s", status, b)
	}
	if status, _, _ := ts.do(t, "GET", "/v2/models/mixed/ready", nil); status != 200 {
		t.Errorf("mixed not ready after load")
	}
	if status, b, _ := ts.do(t, "POST", "/v2/repository/models/lenet/unload", []byte(`{"parameters":{"unload_dependents":false}}`)); status != 200 {
		t.Fatalf("unload: %d %s", status, b)
	}
	if status, b, _ := ts.do(t, "POST", "/v2/models/lenet/infer", lenetRequest(t, 1)); status != 503 || !strings.Contains(string(b), "unloaded") {
		t.Errorf("lenet after unload: %d %s", status, b)
	}
	if status, b, _ := ts.do(t, "POST", "/v2/repository/index", []byte(`{"ready":true}`)); status != 200 || string(b) != `[{"name":"mixed","version":"1","state":"READY"}]` {
		t.Errorf("ready index: %d %s", status, b)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/v2/repository/models/nope/load", "", 404, `model \"nope\" is not in the repository`},
		{"/v2/repository/models/nope/unload", "", 404, `model \"nope\" is not loaded`},
		{"/v2/repository/models/lenet/load", `{"parameters":{"config":"{}"}}`, 400, `load parameter \"config\" is not supported`},
		{"/v2/repository/models/lenet/load", `{"parameters":`, 400, "malformed repository request"},
		{"/v2/repository/models/..%2f/load", "", 400, "is not a model name"},
	} {
		status, b, _ := ts.do(t, "POST", tc.path, []byte(tc.body))
		if status != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Errorf("POST %s: %d %s, want %d containing %s", tc.path, status, b, tc.status, tc.msg)
		}
	}
	// The same over gRPC.
	ctx := context.Background()
	if _, err := ts.grpc.RepositoryModelLoad(ctx, &kservepb.RepositoryModelLoadRequest{ModelName: "lenet"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := ts.grpc.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: "lenet"}); !r.GetReady() {
		t.Error("lenet not ready after gRPC load")
	}
	if _, err := ts.grpc.RepositoryModelUnload(ctx, &kservepb.RepositoryModelUnloadRequest{ModelName: "mixed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.grpc.RepositoryModelLoad(ctx, &kservepb.RepositoryModelLoadRequest{ModelName: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("gRPC load of unknown model: %v", err)
	}
	// A model that fails to load: 400 with the reason, listed in the index.
	writeFile(t, filepath.Join(repo, "broken", "1", "model.onnx"), []byte{1, 2, 3})
	if status, b, _ := ts.do(t, "POST", "/v2/repository/models/broken/load", nil); status != 400 || !strings.Contains(string(b), "failed to load") {
		t.Errorf("load broken: %d %s", status, b)
	}
	found := false
	for _, e := range index(t, ts) {
		found = found || e.Name == "broken" && e.State == StateUnavailable && e.Reason != ""
	}
	if !found {
		t.Errorf("index does not show the broken model: %+v", index(t, ts))
	}
	if status, _, _ := ts.do(t, "GET", "/v2/health/ready", nil); status != 503 {
		t.Errorf("server ready with a model that failed to load (strict readiness)")
	}
}

// TestShutdownDrains: Shutdown lets requests already in the server
// finish; later ones get 503.
func TestShutdownDrains(t *testing.T) {
	reg := Options{ModelRepository: lenetRepo(t, lenetConfig)}
	srv, err := NewServer(reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := func() error {
		_, err := srv.Manager().Infer(context.Background(), &InferRequest{Model: "lenet", Inputs: []Tensor{{Name: "input", Tensor: tensorOf(digit(1), 1, 1, 28, 28)}}})
		return err
	}
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for range 64 {
		wg.Go(func() {
			switch err := req(); {
			case err == nil:
				ok.Add(1)
			case CodeOf(err) == CodeUnavailable:
				refused.Add(1)
			default:
				t.Errorf("request during shutdown: %v", err)
			}
		})
	}
	time.Sleep(2 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := req(); CodeOf(err) != CodeUnavailable || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("after shutdown: %v", err)
	}
	if srv.Ready() {
		t.Error("ready after shutdown")
	}
	t.Logf("%d finished, %d refused", ok.Load(), refused.Load())
}
