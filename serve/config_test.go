package serve

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/serve/configpb"
	"github.com/inferd/inferd/tensor"
)

// TestBadConfigs parses every testdata/*.bad.pbtxt and checks its error.
func TestBadConfigs(t *testing.T) {
	expectedErrors := map[string]string{
		"max_batch_negative.bad.pbtxt":   "max_batch_size -1: must be 0 (no batching) or positive",
		"platform_tf.bad.pbtxt":          `platform "tensorflow_savedmodel": inferd serves ONNX models`,
		"backend_python.bad.pbtxt":       `backend "python": inferd serves ONNX models`,
		"unknown_field.bad.pbtxt":        `unknown field: max_batch_sise`,
		"syntax.bad.pbtxt":               `config.pbtxt:`,
		"dynamic_no_batch.bad.pbtxt":     "dynamic_batching needs max_batch_size > 0",
		"preferred_too_big.bad.pbtxt":    "dynamic_batching.preferred_batch_size 16: must be between 1 and max_batch_size 8",
		"latest_zero.bad.pbtxt":          "version_policy.latest.num_versions 0: must be at least 1",
		"specific_empty.bad.pbtxt":       "version_policy.specific lists no versions",
		"specific_negative.bad.pbtxt":    "version_policy.specific.versions -2: versions are positive integers",
		"input_no_name.bad.pbtxt":        "input[0] has no name",
		"input_twice.bad.pbtxt":          `input "x" is listed twice`,
		"input_bad_dims.bad.pbtxt":       `input "x": dims [3 -2]: a dimension is -1 (variable) or non-negative, not -2`,
		"input_no_type.bad.pbtxt":        `input "x": data_type TYPE_INVALID is not a valid type`,
		"output_twice.bad.pbtxt":         `output "y" is listed twice`,
		"instance_negative.bad.pbtxt":    "instance_group[0].count -1: must be positive",
		"threads_bad.bad.pbtxt":          `parameters "intra_op_thread_count": "many" is not a thread count`,
		"optlevel_bad.bad.pbtxt":         `parameters "optimization_level": "ludicrous" is not an optimization level`,
		"filename_path.bad.pbtxt":        `default_model_filename "../other/model.onnx": must be a file name in the version folder`,
		"warmup_no_inputs.bad.pbtxt":     `model_warmup "w" has no inputs`,
		"warmup_batch_too_big.bad.pbtxt": `model_warmup "w": batch_size 8: must be between 1 and max_batch_size 4`,
		"warmup_no_data.bad.pbtxt":       `model_warmup "w": input "x": set zero_data, random_data or input_data_file`,
		"delay_too_long.bad.pbtxt":       "dynamic_batching.max_queue_delay_microseconds 120000000: more than a minute",
	}
	files, err := filepath.Glob("testdata/*.bad.pbtxt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if _, ok := expectedErrors[name]; !ok {
			t.Errorf("%s has no entry in expectedErrors", name)
		}
	}
	for name, want := range expectedErrors {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ParseModelConfig(data)
			if err == nil {
				t.Fatalf("got no error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want it to contain %q", err, want)
			}
		})
	}
}

// TestConfigUnsupportedFields parses a config written for Triton: the
// fields inferd does not act on are reported, the rest are applied.
func TestConfigUnsupportedFields(t *testing.T) {
	data := []byte(`
name: "resnet"
backend: "onnxruntime"
max_batch_size: 16
input [ { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 224, 224 ] reshape { shape: [ 1, 3, 224, 224 ] } } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 1000 ] label_filename: "labels.txt" } ]
dynamic_batching { preferred_batch_size: [ 8, 4 ] max_queue_delay_microseconds: 100 preserve_ordering: true
  default_queue_policy { max_queue_size: 10 timeout_action: DELAY default_timeout_microseconds: 5000 } }
instance_group [ { count: 2 kind: KIND_GPU gpus: [ 0 ] } ]
optimization { graph { level: 1 } execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }
parameters { key: "intra_op_thread_count" value { string_value: "1" } }
parameters { key: "enable_mem_arena" value { string_value: "1" } }
response_cache { enable: true }
`)
	cfg, notes, err := ParseModelConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"field dynamic_batching.preserve_ordering is not supported by inferd and is ignored",
		"field input.reshape.shape is not supported by inferd and is ignored",
		"field instance_group.gpus is not supported by inferd and is ignored",
		"field optimization.execution_accelerators.gpu_execution_accelerator.name is not supported by inferd and is ignored",
		"field output.label_filename is not supported by inferd and is ignored",
		"field response_cache.enable is not supported by inferd and is ignored",
		"instance_group[0].kind KIND_GPU: inferd runs models on the CPU; using KIND_CPU",
		`parameters key "enable_mem_arena" is not known to inferd and is ignored`,
	}
	slices.Sort(notes)
	if !slices.Equal(notes, want) {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
	if got := cfg.GetDynamicBatching().PreferredBatchSize; !slices.Equal(got, []int32{4, 8}) {
		t.Errorf("preferred_batch_size = %v, want sorted [4 8]", got)
	}
	if cfg.InstanceGroup[0].Count != 2 || cfg.InstanceGroup[0].Kind != configpb.ModelInstanceGroup_KIND_CPU {
		t.Errorf("instance_group = %v, want 2 on KIND_CPU", cfg.InstanceGroup)
	}
	if n, _ := configThreads(cfg); n != 1 {
		t.Errorf("threads = %d, want 1", n)
	}
	if lvl, _ := configOptimizationLevel(cfg); lvl != "extended" {
		t.Errorf("optimization level = %q, want extended", lvl)
	}
	if cfg.DefaultModelFilename != DefaultModelFilename || cfg.GetVersionPolicy().GetLatest().GetNumVersions() != 1 {
		t.Errorf("defaults not applied: %v", cfg)
	}
}

func vi(name string, dt tensor.DType, dims ...any) *ir.ValueInfo {
	s := ir.Shape{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			s = append(s, ir.Dim{Value: int64(d)})
		case string:
			s = append(s, ir.Dim{Value: -1, Param: d})
		}
	}
	return &ir.ValueInfo{Name: name, Type: ir.TensorType(dt, s)}
}

func TestDeriveModelConfig(t *testing.T) {
	in := []*ir.ValueInfo{vi("input", tensor.Float32, "batch", 1, 28, 28)}
	out := []*ir.ValueInfo{vi("log_probs", tensor.Float32, "batch", 10)}
	cfg, err := DeriveModelConfig("lenet", in, out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBatchSize != DefaultMaxBatchSize || cfg.GetDynamicBatching() == nil {
		t.Errorf("max_batch_size %d, dynamic batching %v: want %d with dynamic batching", cfg.MaxBatchSize, cfg.GetDynamicBatching(), DefaultMaxBatchSize)
	}
	if got := cfg.Input[0].Dims; !slices.Equal(got, []int64{1, 28, 28}) {
		t.Errorf("input dims %v, want [1 28 28]", got)
	}
	// A fixed first dimension: no batching, full dims.
	cfg, err = DeriveModelConfig("fixed", []*ir.ValueInfo{vi("x", tensor.Int64, 2, "n")}, []*ir.ValueInfo{vi("y", tensor.Int64, 2, "n")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBatchSize != 0 || cfg.GetDynamicBatching() != nil || !slices.Equal(cfg.Input[0].Dims, []int64{2, -1}) {
		t.Errorf("got max_batch_size %d dims %v, want 0 and [2 -1]", cfg.MaxBatchSize, cfg.Input[0].Dims)
	}
	// Round trip through the text form.
	again, _, err := ParseModelConfig([]byte(FormatModelConfig(cfg)))
	if err != nil {
		t.Fatalf("generated config does not parse: %v\n%s", err, FormatModelConfig(cfg))
	}
	if FormatModelConfig(again) != FormatModelConfig(cfg) {
		t.Errorf("round trip changed the config:\n%s\nvs\n%s", FormatModelConfig(again), FormatModelConfig(cfg))
	}
	// Types the protocols cannot carry.
	if _, err := DeriveModelConfig("c", []*ir.ValueInfo{vi("x", tensor.Complex64, 2)}, nil); err == nil || !strings.Contains(err.Error(), "cannot carry") {
		t.Errorf("complex input: got %v, want an error that says the protocols cannot carry it", err)
	}
}

func TestCompleteConfigMismatch(t *testing.T) {
	in := []*ir.ValueInfo{vi("input", tensor.Float32, "batch", 1, 28, 28)}
	out := []*ir.ValueInfo{vi("log_probs", tensor.Float32, "batch", 10)}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown input", `max_batch_size: 4 input [ { name: "img" data_type: TYPE_FP32 dims: [ 1, 28, 28 ] } ]`, `input "img": the model has no such input (inputs: "input")`},
		{"dtype", `max_batch_size: 4 input [ { name: "input" data_type: TYPE_FP16 dims: [ 1, 28, 28 ] } ]`, `input "input": config data_type TYPE_FP16, but the model's is TYPE_FP32`},
		{"rank", `max_batch_size: 4 input [ { name: "input" data_type: TYPE_FP32 dims: [ 28, 28 ] } ]`, `config dims [28 28] (rank 2) but the model's shape is [batch,1,28,28] (without its batch dimension) (rank 3)`},
		{"dim", `max_batch_size: 4 input [ { name: "input" data_type: TYPE_FP32 dims: [ 3, 28, 28 ] } ]`, `dimension 0 is 3, want 1`},
		{"no batch dim", `max_batch_size: 0 input [ { name: "input" data_type: TYPE_FP32 dims: [ 1, 28, 28 ] } ]`, `config dims [1 28 28] (rank 3) but the model's shape is [batch,1,28,28] (rank 4)`},
		{"unknown output", `max_batch_size: 4 output [ { name: "probs" data_type: TYPE_FP32 dims: [ 10 ] } ]`, `output "probs": the model has no such output`},
		{"warmup input", `max_batch_size: 4 model_warmup [ { name: "w" batch_size: 1 inputs { key: "img" value { data_type: TYPE_FP32 dims: [ 1 ] zero_data: true } } } ]`, `model_warmup "w": the model has no input "img"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := ParseModelConfig([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			err = completeConfig(cfg, in, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// max_batch_size on a model without a variable first dimension.
	cfg, _, _ := ParseModelConfig([]byte(`max_batch_size: 4`))
	err := completeConfig(cfg, []*ir.ValueInfo{vi("x", tensor.Float32, 1, 3)}, nil)
	if err == nil || !strings.Contains(err.Error(), "set max_batch_size: 0") {
		t.Errorf("got %v, want advice to set max_batch_size: 0", err)
	}
}

func TestLenetExampleConfig(t *testing.T) {
	cfg, found, notes, err := ReadModelConfig("../models/lenet")
	if err != nil || !found {
		t.Fatalf("models/lenet/config.pbtxt: found %v, err %v", found, err)
	}
	if len(notes) > 0 {
		t.Errorf("the example config uses unsupported fields: %v", notes)
	}
	if cfg.Name != "lenet" || cfg.MaxBatchSize < 8 || cfg.GetDynamicBatching() == nil {
		t.Errorf("example config: %v", cfg)
	}
}
