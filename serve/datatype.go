package serve

import (
	"github.com/inferd/inferd/serve/configpb"
	"github.com/inferd/inferd/tensor"
)

// dtypeInfo links the three names an element type has: inferd's
// tensor.DType, Triton's config DataType and the KServe v2 datatype string.
type dtypeInfo struct {
	dt     tensor.DType
	config configpb.DataType
	kserve string
	tf     string // TF Serving's DataType name in metadata
}

// dtypes lists every element type the serving protocols carry.
var dtypes = []dtypeInfo{
	{tensor.Bool, configpb.DataType_TYPE_BOOL, "BOOL", "DT_BOOL"},
	{tensor.Uint8, configpb.DataType_TYPE_UINT8, "UINT8", "DT_UINT8"},
	{tensor.Uint16, configpb.DataType_TYPE_UINT16, "UINT16", "DT_UINT16"},
	{tensor.Uint32, configpb.DataType_TYPE_UINT32, "UINT32", "DT_UINT32"},
	{tensor.Uint64, configpb.DataType_TYPE_UINT64, "UINT64", "DT_UINT64"},
	{tensor.Int8, configpb.DataType_TYPE_INT8, "INT8", "DT_INT8"},
	{tensor.Int16, configpb.DataType_TYPE_INT16, "INT16", "DT_INT16"},
	{tensor.Int32, configpb.DataType_TYPE_INT32, "INT32", "DT_INT32"},
	{tensor.Int64, configpb.DataType_TYPE_INT64, "INT64", "DT_INT64"},
	{tensor.Float16, configpb.DataType_TYPE_FP16, "FP16", "DT_HALF"},
	{tensor.Float32, configpb.DataType_TYPE_FP32, "FP32", "DT_FLOAT"},
	{tensor.Float64, configpb.DataType_TYPE_FP64, "FP64", "DT_DOUBLE"},
	{tensor.String, configpb.DataType_TYPE_STRING, "BYTES", "DT_STRING"},
	{tensor.BFloat16, configpb.DataType_TYPE_BF16, "BF16", "DT_BFLOAT16"},
}

func infoByDType(dt tensor.DType) (dtypeInfo, bool) {
	for _, d := range dtypes {
		if d.dt == dt {
			return d, true
		}
	}
	return dtypeInfo{}, false
}

// kserveDType returns the DType of a KServe v2 datatype string.
func kserveDType(s string) (tensor.DType, bool) {
	for _, d := range dtypes {
		if d.kserve == s {
			return d.dt, true
		}
	}
	return tensor.Undefined, false
}

// kserveName returns the KServe v2 datatype string of dt.
func kserveName(dt tensor.DType) string {
	if d, ok := infoByDType(dt); ok {
		return d.kserve
	}
	return dt.String()
}

// configDType returns the tensor.DType of a config DataType.
func configDType(c configpb.DataType) (tensor.DType, bool) {
	for _, d := range dtypes {
		if d.config == c {
			return d.dt, true
		}
	}
	return tensor.Undefined, false
}

// toConfigDType returns the config DataType of dt.
func toConfigDType(dt tensor.DType) (configpb.DataType, bool) {
	if d, ok := infoByDType(dt); ok {
		return d.config, true
	}
	return configpb.DataType_TYPE_INVALID, false
}
