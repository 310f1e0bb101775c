package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

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

// leanGRPC is a minimal gRPC client for ModelInfer over HTTP/2 without
// TLS: one connection with TCP_NODELAY, the request message marshalled
// once, per request one write of a HEADERS frame (HPACK-encoded by a
// persistent encoder) and the DATA frames, then frames read on the
// caller's goroutine until the stream's trailers: SETTINGS and PING
// acknowledged, window updates honoured, :status and grpc-status
// checked, the response message compared with the first one, which was
// checked against the standard client's. No goroutines of its own.
type leanGRPC struct {
	conn      net.Conn
	fr        *http2.Framer
	out       bytes.Buffer // what the framer writes; sent in one Write
	enc       *hpack.Encoder
	hbuf      bytes.Buffer
	authority string
	msg       []byte // the gRPC-framed request message
	stream    uint32
	sendWin   int64 // connection send window
	unacked   int   // received data bytes not yet given back
	maxFrame  int
	resp      []byte
	want      []byte
}

const leanWindow = 1 << 24

func dialLeanGRPC(addr string, req, want proto.Message) (*leanGRPC, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).SetNoDelay(true); err != nil {
		c.Close()
		return nil, err
	}
	m, err := proto.Marshal(req)
	if err != nil {
		c.Close()
		return nil, err
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(m)))
	l := &leanGRPC{conn: c, authority: addr, msg: append(msg, m...), stream: 1, sendWin: 65535, maxFrame: 16384}
	l.fr = http2.NewFramer(&l.out, bufio.NewReaderSize(c, 64<<10))
	l.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	l.fr.MaxHeaderListSize = 1 << 20
	l.enc = hpack.NewEncoder(&l.hbuf)
	l.out.WriteString(http2.ClientPreface)
	l.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: leanWindow}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	l.fr.WriteWindowUpdate(0, leanWindow-65535)
	if err := l.flush(); err != nil {
		c.Close()
		return nil, err
	}
	// The first response, checked against the standard client's, is
	// what later responses must equal byte for byte.
	if err := l.roundTrip(); err != nil {
		c.Close()
		return nil, err
	}
	got := want.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(l.resp, got); err != nil {
		c.Close()
		return nil, fmt.Errorf("lean gRPC client: response: %v", err)
	}
	if !proto.Equal(got, want) {
		c.Close()
		return nil, errors.New("lean gRPC client: the first response differs from the standard client's")
	}
	l.want = bytes.Clone(l.resp)
	return l, nil
}

func (l *leanGRPC) flush() error {
	_, err := l.conn.Write(l.out.Bytes())
	l.out.Reset()
	return err
}

func (l *leanGRPC) do() error {
	if err := l.roundTrip(); err != nil {
		return err
	}
	if !bytes.Equal(l.resp, l.want) {
		return fmt.Errorf("lean gRPC client: response of %d bytes differs from the first (%d bytes)", len(l.resp), len(l.want))
	}
	return nil
}

// roundTrip sends the request on a new stream and reads until its end;
// l.resp is the response message.
func (l *leanGRPC) roundTrip() error {
	id := l.stream
	l.stream += 2
	l.hbuf.Reset()
	for _, f := range [...]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/inference.GRPCInferenceService/ModelInfer"}, {Name: ":authority", Value: l.authority},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	} {
		l.enc.WriteField(f)
	}
	if l.unacked > leanWindow/4 {
		l.fr.WriteWindowUpdate(0, uint32(l.unacked))
		l.unacked = 0
	}
	for l.sendWin < int64(len(l.msg)) {
		if err := l.readFrame(id, nil); err != nil {
			return err
		}
	}
	l.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: l.hbuf.Bytes(), EndHeaders: true})
	for rest := l.msg; ; {
		k := min(len(rest), l.maxFrame)
		l.fr.WriteData(id, k == len(rest), rest[:k])
		if rest = rest[k:]; len(rest) == 0 {
			break
		}
	}
	l.sendWin -= int64(len(l.msg))
	if err := l.flush(); err != nil {
		return err
	}
	l.resp = l.resp[:0]
	done := false
	for !done {
		if err := l.readFrame(id, &done); err != nil {
			return err
		}
	}
	if len(l.resp) < 5 || l.resp[0] != 0 || int(binary.BigEndian.Uint32(l.resp[1:])) != len(l.resp)-5 {
		return fmt.Errorf("lean gRPC client: malformed response message of %d bytes", len(l.resp))
	}
	l.resp = l.resp[5:]
	return nil
}

// readFrame reads and handles one frame; done is set at stream id's end.
func (l *leanGRPC) readFrame(id uint32, done *bool) error {
	f, err := l.fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("lean gRPC client: %w", err)
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		f.ForeachSetting(func(s http2.Setting) error {
			if s.ID == http2.SettingMaxFrameSize {
				l.maxFrame = int(s.Val)
			}
			return nil
		})
		l.fr.WriteSettingsAck()
		return l.flush()
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		l.fr.WritePing(true, f.Data)
		return l.flush()
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			l.sendWin += int64(f.Increment)
		}
	case *http2.MetaHeadersFrame:
		if f.StreamID != id || done == nil {
			return fmt.Errorf("lean gRPC client: headers on stream %d", f.StreamID)
		}
		if s := f.PseudoValue("status"); s != "" && s != "200" {
			return fmt.Errorf("lean gRPC client: :status %s", s)
		}
		if f.StreamEnded() {
			var status, message string
			for _, h := range f.RegularFields() {
				switch h.Name {
				case "grpc-status":
					status = h.Value
				case "grpc-message":
					message = h.Value
				}
			}
			if status != "0" {
				return fmt.Errorf("lean gRPC client: grpc-status %q: %s", status, message)
			}
			*done = true
		}
	case *http2.DataFrame:
		if f.StreamID != id || done == nil {
			return fmt.Errorf("lean gRPC client: data on stream %d", f.StreamID)
		}
		l.resp = append(l.resp, f.Data()...)
		l.unacked += int(f.Length)
		if f.StreamEnded() {
			return errors.New("lean gRPC client: the stream ended without trailers")
		}
	case *http2.RSTStreamFrame:
		// grpc-go may reset a stream with NO_ERROR after its trailers,
		// when its reader had not yet seen the request's end.
		if f.StreamID != id && f.ErrCode == http2.ErrCodeNo {
			return nil
		}
		return fmt.Errorf("lean gRPC client: stream %d reset: %v", f.StreamID, f.ErrCode)
	case *http2.GoAwayFrame:
		return fmt.Errorf("lean gRPC client: GOAWAY: %v %s", f.ErrCode, f.DebugData())
	}
	return nil
}
