package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/serve/configpb"
	"github.com/inferd/inferd/tensor"
)

// ConfigFile is the name of a model's configuration in its folder.
const ConfigFile = "config.pbtxt"

// DefaultModelFilename is the model file looked for in a version folder.
const DefaultModelFilename = "model.onnx"

// DefaultMaxBatchSize is the max_batch_size given to a model without a
// config.pbtxt whose inputs and outputs all have a variable first
// dimension (Triton's default-max-batch-size).
const DefaultMaxBatchSize = 4

// Platform is the platform name inferd reports for its models. Configs may
// also say platform "onnxruntime_onnx" or backend "onnxruntime" (Triton's
// names for ONNX models) or "inferd".
const Platform = "onnxruntime_onnx"

// Parameter keys read from ModelConfig.parameters.
const (
	// ParamThreads is the intra-op thread count of each instance
	// (Triton's onnxruntime backend name; "threads" is an alias).
	ParamThreads = "intra_op_thread_count"
	// ParamOptimizationLevel is the graph optimization level: "none",
	// "basic" or "extended".
	ParamOptimizationLevel = "optimization_level"
)

// DefaultModelConfig returns the configuration a model starts from: fields
// a config.pbtxt leaves unset take these values. It serves the latest
// version on one CPU instance, from model.onnx.
func DefaultModelConfig() *configpb.ModelConfig {
	return &configpb.ModelConfig{
		Platform: Platform,
		VersionPolicy: &configpb.ModelVersionPolicy{PolicyChoice: &configpb.ModelVersionPolicy_Latest_{
			Latest: &configpb.ModelVersionPolicy_Latest{NumVersions: 1},
		}},
		InstanceGroup:        []*configpb.ModelInstanceGroup{{Count: 1, Kind: configpb.ModelInstanceGroup_KIND_CPU}},
		DefaultModelFilename: DefaultModelFilename,
	}
}

// supportedFields lists the config fields inferd acts on, as dotted paths
// of proto field names. A path ending in ".*" covers everything below it.
// Any other field set in a config.pbtxt is reported by ParseModelConfig.
var supportedFields = map[string]bool{
	"name": true, "platform": true, "backend": true, "max_batch_size": true,
	"version_policy.*": true,
	"input.name":       true, "input.data_type": true, "input.dims": true, "input.format": true,
	"output.name": true, "output.data_type": true, "output.dims": true,
	"dynamic_batching.preferred_batch_size":         true,
	"dynamic_batching.max_queue_delay_microseconds": true,
	"dynamic_batching.default_queue_policy.*":       true,
	"instance_group.name":                           true, "instance_group.count": true, "instance_group.kind": true,
	"model_warmup.name": true, "model_warmup.batch_size": true, "model_warmup.count": true,
	"model_warmup.inputs.*":  true,
	"parameters.*":           true,
	"default_model_filename": true,
	"optimization.graph.*":   true,
}

func fieldSupported(path string) bool {
	if supportedFields[path] {
		return true
	}
	for p := path; ; {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
		if supportedFields[p+".*"] {
			return true
		}
	}
}

// unsupportedFields returns the dotted paths of the fields set in m that
// inferd does not act on.
func unsupportedFields(m protoreflect.Message, prefix string, out []string) []string {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		if fieldSupported(path) || supportedFields[path+".*"] {
			return true
		}
		switch {
		case fd.IsMap():
			out = append(out, path)
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			l := v.List()
			n := len(out)
			for i := 0; i < l.Len(); i++ {
				out = unsupportedFields(l.Get(i).Message(), path+".", out)
			}
			if l.Len() > 0 && len(out) == n && !hasSupportedChild(path) {
				out = append(out, path)
			}
		case fd.Kind() == protoreflect.MessageKind:
			n := len(out)
			out = unsupportedFields(v.Message(), path+".", out)
			if len(out) == n && !hasSupportedChild(path) {
				out = append(out, path) // an empty message that means something, e.g. sequence_batching {}
			}
		default:
			out = append(out, path)
		}
		return true
	})
	slices.Sort(out)
	return slices.Compact(out)
}

func hasSupportedChild(path string) bool {
	for p := range supportedFields {
		if strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// ParseModelConfig parses the text of a config.pbtxt over
// DefaultModelConfig and validates it. Notes lists what the caller should
// log: every field inferd does not act on, and settings it adjusted. The
// error names the field and value at fault.
func ParseModelConfig(data []byte) (cfg *configpb.ModelConfig, notes []string, err error) {
	parsed := &configpb.ModelConfig{}
	if err := prototext.Unmarshal(data, parsed); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	for _, f := range unsupportedFields(parsed.ProtoReflect(), "", nil) {
		notes = append(notes, fmt.Sprintf("field %s is not supported by inferd and is ignored", f))
	}
	// Fields left unset take DefaultModelConfig's values.
	cfg = parsed
	def := DefaultModelConfig()
	if cfg.Platform == "" && cfg.Backend == "" {
		cfg.Platform = def.Platform
	}
	if cfg.VersionPolicy == nil {
		cfg.VersionPolicy = def.VersionPolicy
	}
	if len(cfg.InstanceGroup) == 0 {
		cfg.InstanceGroup = def.InstanceGroup
	}
	if cfg.DefaultModelFilename == "" {
		cfg.DefaultModelFilename = def.DefaultModelFilename
	}
	more, err := validateConfig(cfg)
	notes = append(notes, more...)
	if err != nil {
		return nil, notes, err
	}
	return cfg, notes, nil
}

// ReadModelConfig reads <dir>/config.pbtxt with ParseModelConfig. If the
// file does not exist it returns DefaultModelConfig and found = false.
func ReadModelConfig(dir string) (cfg *configpb.ModelConfig, found bool, notes []string, err error) {
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return DefaultModelConfig(), false, nil, nil
	}
	if err != nil {
		return nil, false, nil, err
	}
	cfg, notes, err = ParseModelConfig(data)
	return cfg, true, notes, err
}

// validateConfig checks the fields inferd acts on and normalizes them.
func validateConfig(cfg *configpb.ModelConfig) (notes []string, err error) {
	switch cfg.Platform {
	case "", Platform, "onnxruntime", "inferd", "inferd_onnx":
	default:
		return nil, fmt.Errorf("platform %q: inferd serves ONNX models (platform %q)", cfg.Platform, Platform)
	}
	switch cfg.Backend {
	case "", "onnxruntime", "inferd":
	default:
		return nil, fmt.Errorf("backend %q: inferd serves ONNX models (backend \"onnxruntime\" or \"inferd\")", cfg.Backend)
	}
	if cfg.Platform == "" {
		cfg.Platform = Platform
	}
	if cfg.MaxBatchSize < 0 {
		return nil, fmt.Errorf("max_batch_size %d: must be 0 (no batching) or positive", cfg.MaxBatchSize)
	}
	if err := validateVersionPolicy(cfg.VersionPolicy); err != nil {
		return nil, err
	}
	if err := validateTensors(cfg); err != nil {
		return nil, err
	}
	if db := cfg.GetDynamicBatching(); db != nil {
		if cfg.MaxBatchSize == 0 {
			return nil, errors.New("dynamic_batching needs max_batch_size > 0: a model without a batch dimension cannot be batched")
		}
		for _, p := range db.PreferredBatchSize {
			if p < 1 || p > cfg.MaxBatchSize {
				return nil, fmt.Errorf("dynamic_batching.preferred_batch_size %d: must be between 1 and max_batch_size %d", p, cfg.MaxBatchSize)
			}
		}
		slices.Sort(db.PreferredBatchSize)
		db.PreferredBatchSize = slices.Compact(db.PreferredBatchSize)
		if db.MaxQueueDelayMicroseconds > 60_000_000 {
			return nil, fmt.Errorf("dynamic_batching.max_queue_delay_microseconds %d: more than a minute", db.MaxQueueDelayMicroseconds)
		}
	}
	for i, g := range cfg.InstanceGroup {
		if g.Count < 0 {
			return nil, fmt.Errorf("instance_group[%d].count %d: must be positive", i, g.Count)
		}
		if g.Count == 0 {
			g.Count = 1
		}
		if g.Count > 64 {
			return nil, fmt.Errorf("instance_group[%d].count %d: more than 64 instances", i, g.Count)
		}
		switch g.Kind {
		case configpb.ModelInstanceGroup_KIND_CPU:
		case configpb.ModelInstanceGroup_KIND_AUTO, configpb.ModelInstanceGroup_KIND_MODEL:
			g.Kind = configpb.ModelInstanceGroup_KIND_CPU
		default:
			notes = append(notes, fmt.Sprintf("instance_group[%d].kind %v: inferd runs models on the CPU; using KIND_CPU", i, g.Kind))
			g.Kind = configpb.ModelInstanceGroup_KIND_CPU
		}
	}
	if _, err := configThreads(cfg); err != nil {
		return notes, err
	}
	if _, err := configOptimizationLevel(cfg); err != nil {
		return notes, err
	}
	for k := range cfg.Parameters {
		switch k {
		case ParamThreads, "threads", ParamOptimizationLevel:
		default:
			notes = append(notes, fmt.Sprintf("parameters key %q is not known to inferd and is ignored", k))
		}
	}
	if f := cfg.DefaultModelFilename; f == "" {
		cfg.DefaultModelFilename = DefaultModelFilename
	} else if f != filepath.Base(f) || f == "." || f == ".." {
		return notes, fmt.Errorf("default_model_filename %q: must be a file name in the version folder", f)
	}
	if err := validateWarmup(cfg); err != nil {
		return notes, err
	}
	return notes, nil
}

func validateVersionPolicy(vp *configpb.ModelVersionPolicy) error {
	switch p := vp.GetPolicyChoice().(type) {
	case nil:
		vp.PolicyChoice = &configpb.ModelVersionPolicy_Latest_{Latest: &configpb.ModelVersionPolicy_Latest{NumVersions: 1}}
	case *configpb.ModelVersionPolicy_Latest_:
		if p.Latest.NumVersions == 0 {
			return errors.New("version_policy.latest.num_versions 0: must be at least 1")
		}
	case *configpb.ModelVersionPolicy_Specific_:
		if len(p.Specific.Versions) == 0 {
			return errors.New("version_policy.specific lists no versions")
		}
		for _, v := range p.Specific.Versions {
			if v < 1 {
				return fmt.Errorf("version_policy.specific.versions %d: versions are positive integers", v)
			}
		}
	}
	return nil
}

func validateTensors(cfg *configpb.ModelConfig) error {
	seen := map[string]bool{}
	for i, in := range cfg.Input {
		if in.Name == "" {
			return fmt.Errorf("input[%d] has no name", i)
		}
		if seen[in.Name] {
			return fmt.Errorf("input %q is listed twice", in.Name)
		}
		seen[in.Name] = true
		if _, ok := configDType(in.DataType); !ok {
			return fmt.Errorf("input %q: data_type %v is not a valid type", in.Name, in.DataType)
		}
		if err := validateDims(in.Dims); err != nil {
			return fmt.Errorf("input %q: %w", in.Name, err)
		}
		if in.Format != configpb.ModelInput_FORMAT_NONE && len(in.Dims) != 3 {
			return fmt.Errorf("input %q: format %v needs 3 dims (without the batch dimension), got %d", in.Name, in.Format, len(in.Dims))
		}
	}
	seen = map[string]bool{}
	for i, out := range cfg.Output {
		if out.Name == "" {
			return fmt.Errorf("output[%d] has no name", i)
		}
		if seen[out.Name] {
			return fmt.Errorf("output %q is listed twice", out.Name)
		}
		seen[out.Name] = true
		if _, ok := configDType(out.DataType); !ok {
			return fmt.Errorf("output %q: data_type %v is not a valid type", out.Name, out.DataType)
		}
		if err := validateDims(out.Dims); err != nil {
			return fmt.Errorf("output %q: %w", out.Name, err)
		}
	}
	return nil
}

func validateDims(dims []int64) error {
	for _, d := range dims {
		if d < -1 {
			return fmt.Errorf("dims %v: a dimension is -1 (variable) or non-negative, not %d", dims, d)
		}
	}
	return nil
}

func validateWarmup(cfg *configpb.ModelConfig) error {
	for i, w := range cfg.ModelWarmup {
		name := w.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		if cfg.MaxBatchSize > 0 && (w.BatchSize < 1 || int32(w.BatchSize) > cfg.MaxBatchSize) {
			return fmt.Errorf("model_warmup %q: batch_size %d: must be between 1 and max_batch_size %d", name, w.BatchSize, cfg.MaxBatchSize)
		}
		if len(w.Inputs) == 0 {
			return fmt.Errorf("model_warmup %q has no inputs", name)
		}
		for in, spec := range w.Inputs {
			if _, ok := configDType(spec.DataType); !ok {
				return fmt.Errorf("model_warmup %q: input %q: data_type %v is not a valid type", name, in, spec.DataType)
			}
			for _, d := range spec.Dims {
				if d < 0 {
					return fmt.Errorf("model_warmup %q: input %q: dims %v must all be known", name, in, spec.Dims)
				}
			}
			switch f := spec.InputDataType.(type) {
			case nil:
				return fmt.Errorf("model_warmup %q: input %q: set zero_data, random_data or input_data_file", name, in)
			case *configpb.ModelWarmup_Input_InputDataFile:
				if f.InputDataFile != filepath.Base(f.InputDataFile) {
					return fmt.Errorf("model_warmup %q: input %q: input_data_file %q must be a file name in the model's warmup/ folder", name, in, f.InputDataFile)
				}
			}
		}
	}
	return nil
}

// configThreads returns the intra-op thread count the config asks for
// (0: the server's choice).
func configThreads(cfg *configpb.ModelConfig) (int, error) {
	for _, k := range []string{ParamThreads, "threads"} {
		p, ok := cfg.Parameters[k]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(p.StringValue))
		if err != nil || n < 0 || n > 1024 {
			return 0, fmt.Errorf("parameters %q: %q is not a thread count (0 to 1024)", k, p.StringValue)
		}
		return n, nil
	}
	return 0, nil
}

// configOptimizationLevel returns the graph optimization level the config
// asks for through parameters or optimization.graph.level ("" if none).
func configOptimizationLevel(cfg *configpb.ModelConfig) (string, error) {
	if p, ok := cfg.Parameters[ParamOptimizationLevel]; ok {
		switch v := strings.TrimSpace(p.StringValue); v {
		case "none", "basic", "extended":
			return v, nil
		default:
			return "", fmt.Errorf("parameters %q: %q is not an optimization level (none, basic, extended)", ParamOptimizationLevel, p.StringValue)
		}
	}
	if g := cfg.GetOptimization().GetGraph(); g != nil {
		// Triton's onnxruntime backend: -1 basic, 0 or absent: all, 1: extended.
		switch g.Level {
		case -1:
			return "basic", nil
		case 0, 1:
			return "extended", nil
		default:
			return "", fmt.Errorf("optimization.graph.level %d: must be -1, 0 or 1", g.Level)
		}
	}
	return "", nil
}

// modelShape is the shape a tensor has in the model, dimensions unknown
// or symbolic as -1; nil if the rank is unknown.
func modelShape(s ir.Shape) []int64 {
	if s == nil {
		return nil
	}
	out := make([]int64, len(s))
	for i, d := range s {
		if d.Known() {
			out[i] = d.Value
		} else {
			out[i] = -1
		}
	}
	return out
}

// canBatch reports whether every tensor's first dimension is variable.
func canBatch(vis ...[]*ir.ValueInfo) bool {
	n := 0
	for _, list := range vis {
		for _, v := range list {
			s := v.Type.Shape
			if s == nil {
				continue // unknown rank: checked when the model runs
			}
			if len(s) == 0 || s[0].Known() {
				return false
			}
			n++
		}
	}
	return n > 0
}

// DeriveModelConfig returns the configuration inferd uses for a model
// without a config.pbtxt: its inputs and outputs as the ONNX graph
// declares them and, if every input and output has a variable first
// dimension, max_batch_size DefaultMaxBatchSize with dynamic batching.
func DeriveModelConfig(name string, inputs, outputs []*ir.ValueInfo) (*configpb.ModelConfig, error) {
	cfg := DefaultModelConfig()
	cfg.Name = name
	if canBatch(inputs, outputs) {
		cfg.MaxBatchSize = DefaultMaxBatchSize
		cfg.SchedulingChoice = &configpb.ModelConfig_DynamicBatching{DynamicBatching: &configpb.ModelDynamicBatching{}}
	}
	if err := completeConfig(cfg, inputs, outputs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// completeConfig fills in the inputs and outputs cfg does not list from
// the model's, and checks those it lists against the model: names, element
// types and dimensions (without the batch dimension if max_batch_size > 0).
func completeConfig(cfg *configpb.ModelConfig, inputs, outputs []*ir.ValueInfo) error {
	batched := cfg.MaxBatchSize > 0
	check := func(kind string, vi *ir.ValueInfo, dt configpb.DataType, dims []int64) error {
		if vi.Type.Kind != ir.TensorKind && vi.Type.Kind != ir.UnknownKind {
			return fmt.Errorf("%s %q is a %v: inferd serves tensors only", kind, vi.Name, vi.Type)
		}
		want, ok := toConfigDType(vi.Type.DType)
		if !ok {
			return fmt.Errorf("%s %q has element type %v, which the serving protocols cannot carry", kind, vi.Name, vi.Type.DType)
		}
		if dt != configpb.DataType_TYPE_INVALID && dt != want {
			return fmt.Errorf("%s %q: config data_type %v, but the model's is %v", kind, vi.Name, dt, want)
		}
		ms := modelShape(vi.Type.Shape)
		if ms == nil {
			return nil
		}
		if batched {
			if len(ms) == 0 || ms[0] >= 0 {
				return fmt.Errorf("%s %q has shape %v in the model, with no variable batch dimension, but max_batch_size is %d: set max_batch_size: 0",
					kind, vi.Name, vi.Type.Shape, cfg.MaxBatchSize)
			}
			ms = ms[1:]
		}
		if dims == nil {
			return nil
		}
		if len(dims) != len(ms) {
			return fmt.Errorf("%s %q: config dims %v (rank %d) but the model's shape is %v%s (rank %d)",
				kind, vi.Name, dims, len(dims), vi.Type.Shape, batchNote(batched), len(ms))
		}
		for i, d := range dims {
			if d >= 0 && ms[i] >= 0 && d != ms[i] {
				return fmt.Errorf("%s %q: config dims %v but the model's shape is %v%s: dimension %d is %d, want %d",
					kind, vi.Name, dims, vi.Type.Shape, batchNote(batched), i, d, ms[i])
			}
		}
		return nil
	}
	fill := func(vi *ir.ValueInfo) (configpb.DataType, []int64) {
		dt, _ := toConfigDType(vi.Type.DType)
		ms := modelShape(vi.Type.Shape)
		if ms == nil {
			return dt, []int64{-1}
		}
		if batched && len(ms) > 0 {
			ms = ms[1:]
		}
		return dt, ms
	}
	byName := map[string]*ir.ValueInfo{}
	for _, vi := range inputs {
		byName[vi.Name] = vi
	}
	for _, in := range cfg.Input {
		vi, ok := byName[in.Name]
		if !ok {
			return fmt.Errorf("input %q: the model has no such input (inputs: %s)", in.Name, viNames(inputs))
		}
		if err := check("input", vi, in.DataType, in.Dims); err != nil {
			return err
		}
		if in.DataType == configpb.DataType_TYPE_INVALID || in.Dims == nil {
			dt, dims := fill(vi)
			in.DataType = dt
			if in.Dims == nil {
				in.Dims = dims
			}
		}
	}
	if len(cfg.Input) == 0 {
		for _, vi := range inputs {
			if err := check("input", vi, 0, nil); err != nil {
				return err
			}
			dt, dims := fill(vi)
			cfg.Input = append(cfg.Input, &configpb.ModelInput{Name: vi.Name, DataType: dt, Dims: dims})
		}
	} else if len(cfg.Input) != len(inputs) {
		listed := map[string]bool{}
		for _, in := range cfg.Input {
			listed[in.Name] = true
		}
		for _, vi := range inputs {
			if !listed[vi.Name] {
				return fmt.Errorf("the model's input %q is not listed in config input", vi.Name)
			}
		}
	}
	byName = map[string]*ir.ValueInfo{}
	for _, vi := range outputs {
		byName[vi.Name] = vi
	}
	for _, out := range cfg.Output {
		vi, ok := byName[out.Name]
		if !ok {
			return fmt.Errorf("output %q: the model has no such output (outputs: %s)", out.Name, viNames(outputs))
		}
		if err := check("output", vi, out.DataType, out.Dims); err != nil {
			return err
		}
		if out.DataType == configpb.DataType_TYPE_INVALID || out.Dims == nil {
			dt, dims := fill(vi)
			out.DataType = dt
			if out.Dims == nil {
				out.Dims = dims
			}
		}
	}
	if len(cfg.Output) == 0 {
		for _, vi := range outputs {
			if err := check("output", vi, 0, nil); err != nil {
				return err
			}
			dt, dims := fill(vi)
			cfg.Output = append(cfg.Output, &configpb.ModelOutput{Name: vi.Name, DataType: dt, Dims: dims})
		}
	}
	for _, w := range cfg.ModelWarmup {
		for name := range w.Inputs {
			if _, ok := findInput(cfg, name); !ok {
				return fmt.Errorf("model_warmup %q: the model has no input %q", w.Name, name)
			}
		}
	}
	return nil
}

func batchNote(batched bool) string {
	if batched {
		return " (without its batch dimension)"
	}
	return ""
}

func viNames(vis []*ir.ValueInfo) string {
	var b strings.Builder
	for i, v := range vis {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(v.Name))
	}
	return b.String()
}

func findInput(cfg *configpb.ModelConfig, name string) (*configpb.ModelInput, bool) {
	for _, in := range cfg.Input {
		if in.Name == name {
			return in, true
		}
	}
	return nil, false
}

// FormatModelConfig returns cfg as config.pbtxt text in the style of
// Triton's documentation: fields in schema order, repeated scalars as
// [ a, b ] lists. (prototext's own output is deliberately unstable.)
func FormatModelConfig(cfg *configpb.ModelConfig) string {
	var b strings.Builder
	formatMessage(&b, cfg.ProtoReflect(), "")
	return b.String()
}

func formatMessage(b *strings.Builder, m protoreflect.Message, indent string) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		name := string(fd.Name())
		switch {
		case fd.IsMap():
			keys := []protoreflect.MapKey{}
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys = append(keys, k); return true })
			slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				fmt.Fprintf(b, "%s%s {\n%s  key: %s\n", indent, name, indent, formatScalar(fd.MapKey(), k.Value()))
				mv := v.Map().Get(k)
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					fmt.Fprintf(b, "%s  value {\n", indent)
					formatMessage(b, mv.Message(), indent+"    ")
					fmt.Fprintf(b, "%s  }\n", indent)
				} else {
					fmt.Fprintf(b, "%s  value: %s\n", indent, formatScalar(fd.MapValue(), mv))
				}
				fmt.Fprintf(b, "%s}\n", indent)
			}
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := v.List()
			fmt.Fprintf(b, "%s%s [\n", indent, name)
			for j := 0; j < l.Len(); j++ {
				fmt.Fprintf(b, "%s  {\n", indent)
				formatMessage(b, l.Get(j).Message(), indent+"    ")
				sep := ","
				if j == l.Len()-1 {
					sep = ""
				}
				fmt.Fprintf(b, "%s  }%s\n", indent, sep)
			}
			fmt.Fprintf(b, "%s]\n", indent)
		case fd.IsList():
			l := v.List()
			items := make([]string, l.Len())
			for j := range items {
				items[j] = formatScalar(fd, l.Get(j))
			}
			fmt.Fprintf(b, "%s%s: [ %s ]\n", indent, name, strings.Join(items, ", "))
		case fd.Kind() == protoreflect.MessageKind:
			fmt.Fprintf(b, "%s%s {\n", indent, name)
			formatMessage(b, v.Message(), indent+"  ")
			fmt.Fprintf(b, "%s}\n", indent)
		default:
			fmt.Fprintf(b, "%s%s: %s\n", indent, name, formatScalar(fd, v))
		}
	}
}

func formatScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	}
	return v.String()
}

// tensorSpec is the checked form of a config input or output.
type tensorSpec struct {
	name  string
	dtype tensor.DType
	dims  []int64 // without the batch dimension when batching
}

// prototextLenient parses a config, skipping fields it does not know.
func prototextLenient(data []byte, c *configpb.ModelConfig) error {
	return prototext.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, c)
}

func protoClone(c *configpb.ModelConfig) *configpb.ModelConfig {
	return proto.Clone(c).(*configpb.ModelConfig)
}

// DeriveModelConfigNoBatch is DeriveModelConfig for serving a model
// without batching: max_batch_size 0, dims the full shapes.
func DeriveModelConfigNoBatch(name string, inputs, outputs []*ir.ValueInfo) (*configpb.ModelConfig, error) {
	cfg := DefaultModelConfig()
	cfg.Name = name
	if err := completeConfig(cfg, inputs, outputs); err != nil {
		return nil, err
	}
	return cfg, nil
}
