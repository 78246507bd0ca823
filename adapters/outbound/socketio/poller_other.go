//go:build !linux

package socketio

// watch reads t with a goroutine of its own: the poller (poller_linux.go) is Linux's.
func watch(t *wsTransport) { go t.readLoop() }

func unwatch(*wsTransport) {}
