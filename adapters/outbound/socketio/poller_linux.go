package socketio

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller tells which websocket connections have bytes to read, so that an idle one is
// read by no goroutine (reader.go): one epoll instance for the process, waited on by
// one goroutine, which starts a reading goroutine per connection that has bytes.
// Connections are registered one-shot: the reading goroutine re-arms its connection
// once it has read everything, so that one goroutine at a time reads it, in order.
//
// The epoll instance is itself waited on through Go's own poller (it is readable when
// it has events): a thread blocked in epoll_wait would hand the processor back and
// forth with the scheduler on every wake-up, which measured as half again the CPU per
// handshake.
type poller struct {
	fd   int
	wait syscall.RawConn // fd, as Go's poller knows it

	mu    sync.Mutex
	conns map[uint64]*wsTransport // by registration
	next  uint64
}

var (
	thePoller     *poller
	thePollerOnce sync.Once
)

// watch reads t when it has bytes, from now on, until it closes; without a poller, or
// a descriptor, with a goroutine of its own.
func watch(t *wsTransport) {
	thePollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil || unix.SetNonblock(fd, true) != nil {
			return // read with goroutines
		}
		wait, err := os.NewFile(uintptr(fd), "epoll").SyscallConn()
		if err != nil {
			return
		}
		thePoller = &poller{fd: fd, wait: wait, conns: map[uint64]*wsTransport{}}
		go thePoller.run()
	})
	if thePoller == nil || t.raw == nil || thePoller.add(t) != nil {
		go t.readLoop()
	}
}

// unwatch forgets t, once it is closed (its descriptor left the epoll set with it).
func unwatch(t *wsTransport) {
	if p := thePoller; p != nil && t.polled != 0 {
		p.mu.Lock()
		delete(p.conns, t.polled)
		p.mu.Unlock()
	}
}

func (p *poller) add(t *wsTransport) error {
	p.mu.Lock()
	p.next++
	t.polled = p.next
	p.conns[t.polled] = t
	p.mu.Unlock()
	if err := p.arm(t, unix.EPOLL_CTL_ADD); err != nil {
		unwatch(t)
		t.polled = 0
		return err
	}
	return nil
}

// arm asks for one notification of t's bytes to read, or of its end.
func (p *poller) arm(t *wsTransport, op int) error {
	var err error
	cerr := t.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(t.polled), Pad: int32(t.polled >> 32)}
		err = unix.EpollCtl(p.fd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

func (p *poller) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		var n int
		_ = p.wait.Read(func(fd uintptr) bool {
			var err error
			n, err = unix.EpollWait(int(fd), events, 0)
			return n > 0 || (err != nil && err != unix.EINTR) // none yet: Go's poller waits
		})
		n = max(n, 0)
		p.mu.Lock()
		for _, ev := range events[:n] {
			if t := p.conns[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; t != nil {
				go p.read(t)
			}
		}
		p.mu.Unlock()
	}
}

// read reads t, then re-arms it unless it closed.
func (p *poller) read(t *wsTransport) {
	if t.readable() {
		if err := p.arm(t, unix.EPOLL_CTL_MOD); err != nil {
			t.conn.Emit("close") // it closed meanwhile
		}
	}
}
