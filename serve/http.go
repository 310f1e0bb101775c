package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
)

// HTTPHandler returns the handler of the HTTP port: KServe v2 with
// Triton's extensions under /v2 and TF Serving's REST API under /v1.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", s.httpLive)
	mux.HandleFunc("GET /v2/health/ready", s.httpReady)
	mux.HandleFunc("GET /v2", s.httpServerMetadata)
	mux.HandleFunc("GET /v2/{$}", s.httpServerMetadata)
	mux.HandleFunc("GET /v2/models/stats", s.httpStats)
	for _, p := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		mux.HandleFunc("GET "+p, s.httpModelMetadata)
		mux.HandleFunc("GET "+p+"/ready", s.httpModelReady)
		mux.HandleFunc("GET "+p+"/config", s.httpModelConfig)
		mux.HandleFunc("GET "+p+"/stats", s.httpStats)
		mux.HandleFunc("POST "+p+"/infer", s.httpInfer)
	}
	mux.HandleFunc("POST /v2/repository/index", s.httpRepositoryIndex)
	mux.HandleFunc("POST /v2/repository/models/{model}/load", s.httpLoad)
	mux.HandleFunc("POST /v2/repository/models/{model}/unload", s.httpUnload)
	mux.HandleFunc("GET /v1/models/{rest...}", s.tfGet)
	mux.HandleFunc("POST /v1/models/{rest...}", s.tfPost)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(CodeNotFound, "no endpoint %s %s (see the KServe v2 protocol: /v2/..., or TF Serving: /v1/models/...)", r.Method, r.URL.Path))
	})
	return mux
}

// writeError answers {"error": msg} with the status of err's code.
func writeError(w http.ResponseWriter, err error) {
	msg, _ := json.Marshal(map[string]string{"error": err.Error()})
	w.Header().Set("Content-Type", "application/json")
	status := httpStatus(err)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(msg)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// readBody reads a request body up to the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return s.readBodyAligned(w, r, 0)
}

// readBodyAligned reads a request body up to the size limit into a buffer
// placed so that body[at:] starts on an 8-byte boundary when the length is
// known up front: binary tensors that follow a JSON header of at bytes
// can then be used in place (viewRaw) instead of copied.
func (s *Server) readBodyAligned(w http.ResponseWriter, r *http.Request, at int) ([]byte, error) {
	if r.ContentLength > s.opts.MaxRequestBytes {
		return nil, errorf(CodeTooLarge, "request body of %d bytes exceeds the limit of %d bytes (--max-request-size)", r.ContentLength, s.opts.MaxRequestBytes)
	}
	// A body of declared length ends there (net/http stops it), and that
	// length was checked above; only a body of unknown length (chunked)
	// needs the limiting reader.
	var body io.Reader = r.Body
	if r.ContentLength < 0 {
		body = http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes)
	}
	var buf []byte
	if r.ContentLength > 0 {
		pad := (8 - at%8) % 8
		buf = make([]byte, pad, int64(pad)+r.ContentLength+1)[pad:]
	}
	buf, err := readAll(body, buf)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(CodeTooLarge, "request body exceeds the limit of %d bytes (--max-request-size)", s.opts.MaxRequestBytes)
		}
		return nil, errorf(CodeInvalidArgument, "reading the request body: %v", err)
	}
	return buf, nil
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	if b == nil {
		b = make([]byte, 0, 512)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// modelVersion reads the {model} and optional {version} path values.
func modelVersion(r *http.Request) (string, int64, error) {
	v, err := ParseVersion(r.PathValue("version"))
	return r.PathValue("model"), v, err
}

func (s *Server) httpLive(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
}

func (s *Server) httpReady(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeError(w, errorf(CodeUnavailable, "server is not ready"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// ServerMetadata is the KServe v2 server metadata.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

func (s *Server) httpServerMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, ServerMetadata{Name: Name, Version: Version, Extensions: Extensions})
}

func (s *Server) httpModelMetadata(w http.ResponseWriter, r *http.Request) {
	name, v, err := modelVersion(r)
	if err != nil {
		writeError(w, err)
		return
	}
	md, err := s.mgr.Metadata(name, v)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, md)
}

func (s *Server) httpModelReady(w http.ResponseWriter, r *http.Request) {
	name, v, err := modelVersion(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !s.mgr.ModelReady(name, v) || s.closing.Load() {
		writeError(w, errorf(CodeUnavailable, "model %q is not ready", name))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// configJSON writes a ModelConfig the way Triton's HTTP API does:
// protobuf JSON with the proto field names and every field present.
var configJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func (s *Server) httpModelConfig(w http.ResponseWriter, r *http.Request) {
	name, v, err := modelVersion(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cfg, err := s.mgr.Config(name, v)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := configJSON.Marshal(cfg)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) httpStats(w http.ResponseWriter, r *http.Request) {
	name, v, err := modelVersion(r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.mgr.Stats(name, v)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"model_stats": st})
}

func (s *Server) httpRepositoryIndex(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		Ready bool `json:"ready"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, errorf(CodeInvalidArgument, "malformed repository index request: %v", err))
			return
		}
	}
	idx, err := s.mgr.Index(req.Ready)
	if err != nil {
		writeError(w, err)
		return
	}
	if idx == nil {
		idx = []IndexEntry{}
	}
	writeJSON(w, idx)
}

func (s *Server) httpLoad(w http.ResponseWriter, r *http.Request) {
	if _, err := s.readRepositoryRequest(w, r); err != nil {
		writeError(w, err)
		return
	}
	err := s.mgr.Load(r.Context(), r.PathValue("model"))
	s.updateHealth()
	if err != nil {
		writeError(w, loadError(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) httpUnload(w http.ResponseWriter, r *http.Request) {
	if _, err := s.readRepositoryRequest(w, r); err != nil {
		writeError(w, err)
		return
	}
	err := s.mgr.Unload(r.Context(), r.PathValue("model"))
	s.updateHealth()
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// loadError gives a failed load without a code the status Triton uses.
func loadError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeInvalidArgument, Msg: "failed to load: " + err.Error()}
}

// readRepositoryRequest reads a load/unload body: {"parameters": {...}}.
// Parameters that change what is loaded (config, file overrides) are
// refused, since inferd does not support them.
func (s *Server) readRepositoryRequest(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var req struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, errorf(CodeInvalidArgument, "malformed repository request: %v", err)
		}
	}
	for k := range req.Parameters {
		if k == "config" || strings.HasPrefix(k, "file:") {
			return nil, errorf(CodeInvalidArgument, "load parameter %q is not supported by inferd: write the files into the repository", k)
		}
		if k != "unload_dependents" {
			return nil, errorf(CodeInvalidArgument, "unknown load parameter %q", k)
		}
	}
	return req.Parameters, nil
}

func (s *Server) httpInfer(w http.ResponseWriter, r *http.Request) {
	name, v, err := modelVersion(r)
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(r.PathValue("model")), CodeOf(err))
		writeError(w, err)
		return
	}
	headerLen := -1
	if h := r.Header.Get(HeaderContentLength); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			err := errorf(CodeInvalidArgument, "%s: %q is not a length", HeaderContentLength, h)
			s.metrics.modelFailure(s.mgr.metricsModel(name), CodeOf(err))
			writeError(w, err)
			return
		}
		headerLen = n
	}
	body, err := s.readBodyAligned(w, r, max(headerLen, 0))
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(name), CodeOf(err))
		writeError(w, err)
		return
	}
	hi, err := decodeInferRequest(body, headerLen)
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(name), CodeOf(err))
		writeError(w, err)
		return
	}
	hi.req.Model, hi.req.Version = name, v
	resp, err := s.mgr.Infer(r.Context(), hi.req)
	if err != nil {
		writeError(w, err)
		return
	}
	head, bins, err := encodeInferResponseParts(resp, hi)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	size := len(head)
	if bins != nil {
		h["Content-Type"] = octetStream
		h[HeaderContentLength] = []string{strconv.Itoa(len(head))}
		for _, b := range bins {
			size += len(b)
		}
	} else {
		h["Content-Type"] = applicationJSON
	}
	h["Content-Length"] = []string{strconv.Itoa(size)}
	w.Write(head)
	for _, b := range bins {
		w.Write(b)
	}
}

// Header values shared by every response (net/http does not modify them).
var (
	octetStream     = []string{"application/octet-stream"}
	applicationJSON = []string{"application/json"}
)
