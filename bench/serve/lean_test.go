package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/serve"
	"github.com/inferd/inferd/serve/kservepb"
)

// TestLeanHTTP checks the lean client against net/http's server: the
// request it writes is one that server reads as sent, a 200 response
// equal to the expected one passes, and a different body, header length
// or status fails.
func TestLeanHTTP(t *testing.T) {
	reqBody := []byte(`{"inputs":[]}` + "\x01\x02\x03\x04")
	status, respHdr, respBody := 200, "5", []byte(`{"a":1}`+"\x00\xff")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/v2/models/m/infer" || !bytes.Equal(got, reqBody) ||
			r.Header.Get(serve.HeaderContentLength) != "13" || r.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("server got %s %s %q %v", r.Method, r.URL.Path, got, r.Header)
		}
		w.Header().Set(serve.HeaderContentLength, respHdr)
		w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
		w.WriteHeader(status)
		w.Write(respBody)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	want := bytes.Clone(respBody)
	l, err := dialLean(addr, "/v2/models/m/infer", reqBody, "13", want, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer l.conn.Close()
	for range 3 {
		if err := l.do(); err != nil {
			t.Fatal(err)
		}
	}
	respBody[1] = 'b'
	if err := l.do(); err == nil {
		t.Error("a different body passed")
	}
	respBody[1] = 'a'
	respHdr = "6"
	if err := l.do(); err == nil {
		t.Error("a different header length passed")
	}
	respHdr, status = "5", 500
	if err := l.do(); err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Errorf("status 500: %v", err)
	}
}

// TestLeanHTTPAllocs checks that the lean client allocates nothing per
// request, against a server that answers canned bytes without allocating.
func TestLeanHTTPAllocs(t *testing.T) {
	body := []byte("0123456789")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n" + serve.HeaderContentLength + ": 2\r\n\r\nabcd")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l0, err := dialLean(ln.Addr().String(), "/p", body, "3", []byte("abcd"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l0.conn.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reqLen := len(l0.req)
	go func() {
		buf := make([]byte, 4096)
		for {
			for n := 0; n < reqLen; {
				m, err := c.Read(buf[n:reqLen])
				if err != nil {
					return
				}
				n += m
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}()
	if err := l0.do(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() {
		if err := l0.do(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

// TestLeanGRPC drives inferd's gRPC server with the lean client: its
// responses must equal the standard client's, and an error status from
// the server must come back as an error.
func TestLeanGRPC(t *testing.T) {
	path, err := relu784()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	b := &bench{model: path, threads: 1}
	if err := b.prepare(); err != nil {
		t.Fatal(err)
	}
	s, ep, stop, err := b.serveSide()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	greq, _, _ := b.requests(1)
	want, err := s.grpc.ModelInfer(context.Background(), greq)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{ep["grpc"], ep["grpc-echo"]} {
		l, err := dialLeanGRPC(addr, greq, want)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 { // past the initial windows
			if err := l.do(); err != nil {
				t.Fatal(err)
			}
		}
		l.conn.Close()
	}
	bad := proto.Clone(greq).(*kservepb.ModelInferRequest)
	bad.ModelName = "nonesuch"
	if _, err := dialLeanGRPC(ep["grpc"], bad, want); err == nil || !strings.Contains(err.Error(), "grpc-status") {
		t.Errorf("unknown model: %v", err)
	}
}
