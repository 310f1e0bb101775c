package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/inferd/inferd/serve"
	"github.com/inferd/inferd/serve/kservepb"
)

// echo is the protocol floor: servers on the same stacks, with the same
// options as inferd's, that read the same request bytes and answer with
// the bytes inferd answered, captured once, without decoding or
// inference. Latency of inferd minus latency of echo is what inferd's
// own code adds, payload transport included in neither.
type echo struct {
	grpcAddr, httpAddr string
	stop               func()
}

type echoGRPC struct {
	kservepb.UnimplementedGRPCInferenceServiceServer
	resp *kservepb.ModelInferResponse
	busy time.Duration
}

func (e *echoGRPC) ModelInfer(context.Context, *kservepb.ModelInferRequest) (*kservepb.ModelInferResponse, error) {
	spin(e.busy)
	return e.resp, nil
}

// spin keeps the CPU busy for d, as an engine run would.
func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// startEcho captures one gRPC and one HTTP binary response of s and
// starts echo servers that answer with them after spinning for busy.
func startEcho(s *server, b *bench, busy time.Duration) (*echo, error) {
	greq, body, hdr := b.requests(1)
	gresp, err := s.grpc.ModelInfer(context.Background(), greq)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest("POST", s.url+"/v2/models/m/infer", bytes.NewReader(body))
	req.Header.Set(serve.HeaderContentLength, hdr)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	hbody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%d %s", resp.StatusCode, hbody)
	}
	hheader := resp.Header.Clone()
	delete(hheader, "Date")

	gs := grpc.NewServer(grpc.MaxRecvMsgSize(serve.DefaultMaxRequestBytes), grpc.MaxSendMsgSize(1<<31-1),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	kservepb.RegisterGRPCInferenceServiceServer(gs, &echoGRPC{resp: gresp, busy: busy})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go gs.Serve(gl)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 0, r.ContentLength+1)
		for {
			n, err := r.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				break
			}
		}
		if strconv.Itoa(len(buf)) != r.Header.Get("Content-Length") {
			w.WriteHeader(400)
			return
		}
		spin(busy)
		h := w.Header()
		for k, v := range hheader {
			h[k] = v
		}
		w.Write(hbody)
	})}
	go hs.Serve(hl)
	return &echo{grpcAddr: gl.Addr().String(), httpAddr: hl.Addr().String(), stop: func() { hs.Close(); gs.Stop() }}, nil
}
