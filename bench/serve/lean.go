package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/inferd/inferd/serve"
)

// leanHTTP is a minimal HTTP/1.1 client for the binary-tensor inference
// request, sending and reading what a lean C++ client (perf_analyzer's)
// does and no more: one keep-alive connection with TCP_NODELAY, the
// request bytes built once and written in one write, the response head
// read up to its blank line, the status, Content-Length and
// Inference-Header-Content-Length parsed, the body read whole and
// compared with the response the standard client got. It allocates
// nothing per request and hands nothing between goroutines.
type leanHTTP struct {
	conn    net.Conn
	req     []byte
	buf     []byte
	want    []byte // the expected body
	wantHdr int    // and its JSON header's length
}

func dialLean(addr, path string, body []byte, hdrLen string, want []byte, wantHdr int) (*leanHTTP, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).SetNoDelay(true); err != nil {
		c.Close()
		return nil, err
	}
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		path, addr, serve.HeaderContentLength, hdrLen, len(body))
	req = append(req, body...)
	return &leanHTTP{conn: c, req: req, buf: make([]byte, 4096+len(want)), want: want, wantHdr: wantHdr}, nil
}

var crlfcrlf = []byte("\r\n\r\n")

func (l *leanHTTP) do() error {
	body, hdr, err := l.roundTrip()
	if err != nil {
		return err
	}
	if hdr != l.wantHdr || !bytes.Equal(body, l.want) {
		return fmt.Errorf("lean client: response of %d bytes (header %d) differs from the standard client's %d bytes (header %d)", len(body), hdr, len(l.want), l.wantHdr)
	}
	return nil
}

// roundTrip sends the request and returns the body of a 200 response
// (valid until the next call) and its Inference-Header-Content-Length
// (-1 when absent).
func (l *leanHTTP) roundTrip() ([]byte, int, error) {
	if _, err := l.conn.Write(l.req); err != nil {
		return nil, 0, err
	}
	n, end := 0, -1
	for end < 0 {
		if n == len(l.buf) {
			return nil, 0, fmt.Errorf("lean client: response head over %d bytes", n)
		}
		m, err := l.conn.Read(l.buf[n:])
		from := max(0, n-3)
		n += m
		if i := bytes.Index(l.buf[from:n], crlfcrlf); i >= 0 {
			end = from + i
		} else if err != nil {
			return nil, 0, fmt.Errorf("lean client: reading the response head: %w", err)
		}
	}
	line, rest, _ := bytes.Cut(l.buf[:end], crlfcrlf[:2])
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || len(line) > 12 && line[12] != ' ' {
		return nil, 0, fmt.Errorf("lean client: status line %q", line)
	}
	status, ok := atoi(line[9:12])
	if !ok {
		return nil, 0, fmt.Errorf("lean client: status line %q", line)
	}
	clen, hlen := -1, -1
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, crlfcrlf[:2])
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return nil, 0, fmt.Errorf("lean client: header line %q", h)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if clen, ok = atoi(v); !ok {
				return nil, 0, fmt.Errorf("lean client: Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte(serve.HeaderContentLength)):
			if hlen, ok = atoi(v); !ok {
				return nil, 0, fmt.Errorf("lean client: %s %q", serve.HeaderContentLength, v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			return nil, 0, fmt.Errorf("lean client: Transfer-Encoding %q (it reads Content-Length bodies only)", v)
		case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
			return nil, 0, errors.New("lean client: the server closes the connection")
		}
	}
	if clen < 0 {
		return nil, 0, errors.New("lean client: response without Content-Length")
	}
	start := end + len(crlfcrlf)
	total := start + clen
	if n > total {
		return nil, 0, fmt.Errorf("lean client: %d bytes after the response", n-total)
	}
	if total > len(l.buf) {
		l.buf = append(l.buf[:n], make([]byte, total-n)...)
	}
	for n < total {
		m, err := l.conn.Read(l.buf[n:total])
		n += m
		if err != nil && n < total {
			return nil, 0, fmt.Errorf("lean client: reading the body: %w", err)
		}
	}
	body := l.buf[start:total]
	if status != 200 {
		return nil, 0, fmt.Errorf("lean client: status %d: %s", status, body)
	}
	return body, hlen, nil
}

// atoi parses a non-negative decimal without allocating.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}
