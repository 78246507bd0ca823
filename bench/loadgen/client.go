package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wagate/wagate/bench/internal/fixture"
)

// A listener speaks engine.io v4 / socket.io v5 over a raw websocket: it joins one
// device namespace with the key in its auth, answers the server's pings, and counts
// the `message` events it is sent, checking that their seq follow each other.
type listener struct {
	conn *websocket.Conn
	nsp  string

	phase atomic.Pointer[phase]
	got   int // messages received in the current phase; only the reader touches it
	next  int // the seq expected next
	err   error
}

// phase is what a scenario waits for: every listener to receive expect messages.
type phase struct {
	expect  int
	done    sync.WaitGroup
	latency bool
	mu      sync.Mutex
	samples []int64 // µs from when the server built the event to its reception
	errs    atomic.Int64
}

var dialer = websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 512}

// small is the dialer of idle listeners, whose own buffers do not matter.
var small = websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 256}

// join opens a connection to the server on port and joins the namespace of device n,
// waiting for the server's CONNECT.
func join(d *websocket.Dialer, port, n int) (*listener, error) {
	u := url.URL{Scheme: "ws", Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/ws/", RawQuery: "EIO=4&transport=websocket"}
	conn, _, err := d.Dial(u.String(), nil)
	if err != nil {
		return nil, err
	}
	l := &listener{conn: conn, nsp: fixture.Namespace(n)}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, open, err := conn.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", open, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`40`+l.nsp+`,{"apiKey":"`+fixture.Key+`"}`)); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		_, m, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, err
		}
		switch {
		case bytes.HasPrefix(m, []byte("40"+l.nsp+",")):
			_ = conn.SetReadDeadline(time.Time{})
			return l, nil
		case bytes.HasPrefix(m, []byte("44")):
			conn.Close()
			return nil, fmt.Errorf("refused: %s", m)
		case string(m) == "2":
			_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

var messageEvent = []byte(`["message",`)

// read handles what the server sends until the connection closes.
func (l *listener) read() {
	var buf bytes.Buffer
	buf.Grow(1024)
	for {
		_, r, err := l.conn.NextReader()
		if err != nil {
			if p := l.phase.Load(); p != nil && l.got < p.expect {
				l.fail(p, fmt.Errorf("closed after %d of %d messages: %w", l.got, p.expect, err))
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			continue
		}
		m := buf.Bytes()
		if len(m) == 1 && m[0] == '2' {
			_ = l.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if len(m) < 2 || m[0] != '4' || m[1] != '2' {
			continue
		}
		comma := bytes.IndexByte(m, ',')
		if comma < 0 || !bytes.HasPrefix(m[comma+1:], messageEvent) {
			continue // the state sent on connect
		}
		received := time.Now().UnixMicro()
		seq, sent, ok := tail(m)
		p := l.phase.Load()
		if p == nil || !ok {
			continue
		}
		if seq != l.next {
			l.fail(p, fmt.Errorf("seq %d after %d", seq, l.next-1))
		}
		l.next = seq + 1
		l.got++
		if p.latency {
			p.mu.Lock()
			p.samples = append(p.samples, received-sent)
			p.mu.Unlock()
		}
		if l.got == p.expect {
			p.done.Done()
		} else if l.got > p.expect {
			l.fail(p, errors.New("more messages than published"))
		}
	}
}

func (l *listener) fail(p *phase, err error) {
	if p.errs.Add(1) == 1 {
		l.err = err
	}
}

// tail finds seq and sent at the end of a payload: `"seq":12,"sent":1764…}]`.
func tail(m []byte) (seq int, sent int64, ok bool) {
	i := bytes.LastIndex(m, []byte(`"seq":`))
	if i < 0 {
		return 0, 0, false
	}
	rest := m[i+6:]
	c := bytes.IndexByte(rest, ',')
	if c < 0 {
		return 0, 0, false
	}
	s, err := strconv.Atoi(string(rest[:c]))
	if err != nil {
		return 0, 0, false
	}
	rest = rest[c+len(`,"sent":`):]
	e := bytes.IndexByte(rest, '}')
	if e < 0 {
		return 0, 0, false
	}
	t, err := strconv.ParseInt(string(rest[:e]), 10, 64)
	return s, t, err == nil
}

// begin has every listener count toward p from now on.
func begin(ls []*listener, p *phase) {
	p.done.Add(len(ls))
	for _, l := range ls {
		l.phase.Store(p)
	}
}

// connectAll joins n listeners, the i-th to device 1+i%devices, dialling a few at once.
func connectAll(d *websocket.Dialer, port, n, devices int) ([]*listener, error) {
	ls := make([]*listener, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			l, err := join(d, port, 1+i%devices)
			if err != nil {
				errs <- err
				return
			}
			ls[i] = l
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll(ls)
		return nil, err
	}
	for _, l := range ls {
		go l.read()
	}
	return ls, nil
}

func closeAll(ls []*listener) {
	for _, l := range ls {
		if l != nil {
			_ = l.conn.Close()
		}
	}
}

// discard drains r: the control route's answers.
func discard(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
