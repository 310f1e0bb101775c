// Command compare times inferd and ONNX Runtime side by side on the refkit
// models: same model file, same inputs, same thread count, runs interleaved
// (inferd, ORT, inferd, ORT, …) so that machine noise hits both alike, and
// prints the median of each runtime's per-round medians and their ratio.
//
//	go build -o /tmp/inferd ./cmd/inferd
//	go run ./bench/compare -inferd /tmp/inferd -models /path/to/refkit/models \
//	    -ort ../shared/refkit/ort_bench.js -rounds 5 -threads 1,2
//
// ORT runs through ../shared/refkit/ort_bench.js (onnxruntime-node; install
// it as refkit's README says). Not part of CI: it needs ORT and minutes.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

type config struct {
	model string // folder name under -models
	file  string // model file in that folder
	batch int
}

var defaultSet = []config{
	{"mlp", "mlp_opset17.onnx", 1},
	{"resnet18", "resnet18_opset17.onnx", 1},
	{"resnet50", "resnet50_opset17.onnx", 1},
	{"resnet50", "resnet50_opset17.onnx", 8},
	{"mobilenet_v2", "mobilenet_v2_opset17.onnx", 1},
	{"bert_like", "bert_like_opset17.onnx", 1},
	{"bert_like", "bert_like_opset17.onnx", 8},
	{"lstm_text", "lstm_text_opset17.onnx", 1},
	{"mixer_ln_gelu", "mixer_ln_gelu_opset17.onnx", 1},
}

func main() {
	inferd := flag.String("inferd", "inferd", "inferd binary")
	models := flag.String("models", "", "refkit models folder (make_models.py's output)")
	ort := flag.String("ort", "../shared/refkit/ort_bench.js", "refkit's ort_bench.js")
	rounds := flag.Int("rounds", 5, "interleaved rounds per configuration")
	iters := flag.Int("iters", 20, "timed runs per round")
	threadList := flag.String("threads", "1,2", "thread counts")
	only := flag.String("only", "", "comma-separated model names to run (default: all)")
	flag.Parse()
	if *models == "" {
		fmt.Fprintln(os.Stderr, "compare: -models is required")
		os.Exit(2)
	}
	var threads []int
	for _, s := range strings.Split(*threadList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "compare: bad thread count %q\n", s)
			os.Exit(2)
		}
		threads = append(threads, n)
	}
	want := map[string]bool{}
	for _, m := range strings.Split(*only, ",") {
		if m != "" {
			want[m] = true
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("date %s, host %s, rounds %d × %d runs\n\n", time.Now().Format("2006-01-02"), host, *rounds, *iters)
	fmt.Println("| model | batch | threads | inferd ms | ORT ms | inferd / ORT |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, c := range defaultSet {
		if len(want) > 0 && !want[c.model] {
			continue
		}
		dir := filepath.Join(*models, c.model)
		path := filepath.Join(dir, c.file)
		inputs, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("b%d_input_*.npy", c.batch)))
		if err != nil || len(inputs) == 0 {
			fmt.Fprintf(os.Stderr, "compare: %s batch %d: no inputs, skipped\n", c.model, c.batch)
			continue
		}
		slices.Sort(inputs)
		for _, t := range threads {
			var mi, mo []float64
			for r := 0; r < *rounds; r++ {
				a, err := runInferd(*inferd, path, inputs, t, *iters)
				if err != nil {
					fmt.Fprintf(os.Stderr, "compare: inferd %s: %v\n", c.model, err)
					break
				}
				b, err := runORT(*ort, path, inputs, t, *iters)
				if err != nil {
					fmt.Fprintf(os.Stderr, "compare: ORT %s: %v\n", c.model, err)
					break
				}
				mi, mo = append(mi, a), append(mo, b)
			}
			if len(mi) == 0 || len(mo) == 0 {
				continue
			}
			x, y := median(mi), median(mo)
			fmt.Printf("| %s | %d | %d | %.3f | %.3f | %.2f |\n", c.model, c.batch, t, x, y, x/y)
		}
	}
}

// inputArgs pairs the model's inputs, in order, with the refkit files.
func inputArgs(flag string, inputs []string) []string {
	var args []string
	for _, in := range inputs {
		args = append(args, flag, in)
	}
	return args
}

func runInferd(bin, model string, inputs []string, threads, iters int) (float64, error) {
	names, err := inputNames(bin, model)
	if err != nil {
		return 0, err
	}
	if len(names) != len(inputs) {
		return 0, fmt.Errorf("model has %d inputs, refkit data %d", len(names), len(inputs))
	}
	args := []string{"bench", model, "--threads", strconv.Itoa(threads), "--warmup", "3", "--iters", strconv.Itoa(iters), "--json"}
	for i, in := range inputs {
		args = append(args, "-i", names[i]+"="+in)
	}
	var r struct {
		MedianMS float64 `json:"median_ms"`
	}
	if err := runJSON(exec.Command(bin, args...), &r); err != nil {
		return 0, err
	}
	return r.MedianMS, nil
}

func runORT(script, model string, inputs []string, threads, iters int) (float64, error) {
	args := append([]string{script, model, "--threads", strconv.Itoa(threads), "--warmup", "3", "--runs", strconv.Itoa(iters), "--json"}, inputArgs("--input", inputs)...)
	var r struct {
		MedianMS float64 `json:"median_ms"`
	}
	if err := runJSON(exec.Command("node", args...), &r); err != nil {
		return 0, err
	}
	return r.MedianMS, nil
}

var namesCache = map[string][]string{}

// inputNames asks inferd inspect for the model's input names, in order.
func inputNames(bin, model string) ([]string, error) {
	if n, ok := namesCache[model]; ok {
		return n, nil
	}
	out, err := exec.Command(bin, "inspect", model).Output()
	if err != nil {
		return nil, fmt.Errorf("inspect: %v", err)
	}
	var names []string
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "inputs:":
			in = true
		case in && strings.HasPrefix(line, "  "):
			name, _, _ := strings.Cut(strings.TrimSpace(line), ":")
			names = append(names, name)
		default:
			in = false
		}
	}
	namesCache[model] = names
	return names, nil
}

func runJSON(cmd *exec.Cmd, v any) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return json.Unmarshal(out, v)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
