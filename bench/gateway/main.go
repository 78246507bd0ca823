// Command gateway serves wagate's Socket.io gateway (adapters/outbound/socketio) on a
// loopback port, as bin/wagate wires it, with a control route through which the load
// generator (bench/loadgen) has events published: every event goes through
// Gateway.Publish, from one goroutine in the order of the ids, as the feed hands them
// over in bin/wagate. What is left out is what is not the broadcast path: the database
// the feed reads and WhatsApp. Keys are checked by the real apikey.Guard against the
// configured key; devices are read from memory.
//
// It prints "listening <port>" once it serves. GET /bench/publish?devices=D&count=M&rate=R
// publishes M `message` events to each of the devices 1..D (the ids of bench.DeviceID),
// R events/s in all (0: as fast as Publish returns), and answers once they are published.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/adapters/outbound/socketio"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/bench/internal/fixture"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
)

func main() {
	bootstrap.TuneGC() // the collector as bin/wagate runs it
	key := flag.String("key", fixture.Key, "the API key listeners present")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file, on SIGTERM")
	flag.Parse()
	if *cpuprofile != "" {
		profile(*cpuprofile)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := memory.NewKeys()
	auth := apikey.New(application.NewAuthenticate(keys, application.AdminKey(*key), time.Now), log, apikey.Options{})
	g := socketio.New(auth, application.NewValidKeys(keys, time.Now), devices{}, memory.NewLog(), log, socketio.Options{})
	p := &publisher{g: g}
	mux := http.NewServeMux()
	mux.Handle(socketio.Path+"/", g.Handler())
	mux.HandleFunc("/bench/publish", p.serve)
	mux.HandleFunc("/debug/pprof/", httppprof.Index) // loadgen -heap
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr().(*net.TCPAddr).Port)
	fmt.Fprintln(os.Stderr, http.Serve(ln, mux))
	os.Exit(1)
}

// profile profiles the CPU until the process is told to stop.
func profile(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		pprof.StopCPUProfile()
		_ = f.Close()
		os.Exit(0)
	}()
}

// devices finds every device: the gateway reads one when a listener connects, to
// check that it exists and to send its state.
type devices struct{}

func (devices) Get(context.Context, device.ID) (*device.Device, error) {
	return device.New("bench", time.Now())
}

// publisher numbers events and publishes them one at a time, as the feed does.
type publisher struct {
	mu   sync.Mutex
	g    *socketio.Gateway
	next device.EventID
}

func (p *publisher) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err1 := strconv.Atoi(q.Get("devices"))
	count, err2 := strconv.Atoi(q.Get("count"))
	rate, err3 := strconv.Atoi(q.Get("rate"))
	if err1 != nil || err2 != nil || err3 != nil || n < 1 || count < 1 || rate < 0 {
		http.Error(w, "devices, count and rate are numbers", http.StatusBadRequest)
		return
	}
	ids := make([]device.ID, n)
	for i := range ids {
		ids[i] = device.ID(fixture.DeviceID(i + 1))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	fixture.Pace(n*count, rate, func(i int) {
		p.next++
		id := ids[i%n]
		payload := fixture.AppendPayload(make([]byte, 0, 512), p.next.String(), string(id), i/n, time.Now().UnixMicro())
		_ = p.g.Publish(context.Background(), device.Record{ID: p.next, DeviceID: id, Name: "message", At: time.Now(), Payload: payload})
	})
	fmt.Fprintln(w, time.Since(start))
}
