// Command devices measures how many WhatsApp devices one gateway process holds: it runs
// the wasim simulator in its own process and the gateway (bootstrap, as bin/wagate wires
// it) in a child process, so that the child's resident set and CPU time are the
// gateway's alone. It links N devices, measures the memory each costs over the
// gateway's base, the CPU the idle sessions take, the time until all are ready again
// after a restart, and the ingest latency of messages from simulator contacts to a
// Socket.io listener at a fixed rate.
//
//	go run ./bench/devices -n 1000              # SQLite
//	go run ./bench/devices -n 100 -ingest-only -db postgres
//
// Every wait is bounded; the child is killed if the harness dies (Pdeathsig).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // the child's profiles, on a loopback listener only (-pprof)
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/wagate/wagate/bench/internal/procstat"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/test/wasim"
)

const apiKey = "bench-devices-key-0123456789abcdefghijklmnop"

// api calls the gateway; a call that hangs fails rather than the run.
var api = &http.Client{Timeout: 30 * time.Second}

func main() {
	var (
		serve      = flag.Bool("serve", false, "run the gateway (the child process); configured by the environment")
		pprofAddr  = flag.String("pprof", "", "child: serve net/http/pprof on this loopback address")
		n          = flag.Int("n", 1000, "devices to link")
		db         = flag.String("db", "sqlite", "sqlite or postgres (a fresh database on 127.0.0.1:5432, dropped at the end)")
		idle       = flag.Duration("idle", 30*time.Second, "how long to measure idle CPU")
		settle     = flag.Duration("settle", 10*time.Second, "wait after all devices are ready before measuring memory")
		rate       = flag.Int("rate", 500, "ingest: messages/s across the ingest devices")
		ingestDevs = flag.Int("ingest-devices", 100, "ingest: devices the messages go to (the first ones linked)")
		ingestFor  = flag.Duration("ingest-for", 10*time.Second, "ingest: how long to send")
		ingestOnly = flag.Bool("ingest-only", false, "link -ingest-devices devices and measure ingest only")
		profile    = flag.String("profile", "", "write the child's heap and CPU profiles (30 s, idle) and goroutines into this directory")
		parallel   = flag.Int("link-parallel", 4, "devices linked at once")
		variants   = flag.String("restarts", "default", "comma-separated environments to restart the gateway with, one restart each (e.g. GOGC=50,default); the last one is profiled and measures the ingest")
	)
	flag.Parse()
	if *serve {
		if err := runGateway(*pprofAddr); err != nil {
			fmt.Fprintln(os.Stderr, "gateway:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{db: *db, parallel: *parallel, profile: *profile, restarts: strings.Split(*variants, ",")}
	if err := h.run(ctx, *n, *idle, *settle, *rate, *ingestDevs, *ingestFor, *ingestOnly); err != nil {
		log.Fatal(err)
	}
}

// runGateway is the child: the gateway as cmd/wagate serves it, plus pprof on loopback.
func runGateway(pprofAddr string) error {
	bootstrap.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := bootstrap.LoadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	lg := cfg.Logger()
	if pprofAddr != "" {
		host, _, err := net.SplitHostPort(pprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-pprof %q: only a loopback address", pprofAddr)
		}
		go func() { lg.Warn("pprof", "err", http.ListenAndServe(pprofAddr, nil)) }()
	}
	gw, cleanup, err := bootstrap.Build(ctx, cfg, lg)
	if err != nil {
		return err
	}
	defer cleanup()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	return gw.Serve(ctx, ln)
}

type harness struct {
	db       string
	parallel int
	profile  string
	restarts []string // the environment of each restart: "default" or NAME=VALUE
	env      string   // the current one's
	sim      *wasim.Server
	dataDir  string
	dbURL    string
	port     int
	pprof    string
	child    *exec.Cmd
	exited   chan struct{}
	phones   []string
}

func (h *harness) run(ctx context.Context, n int, idle, settle time.Duration, rate, ingestDevs int, ingestFor time.Duration, ingestOnly bool) error {
	sim, err := wasim.New(wasim.Options{})
	if err != nil {
		return err
	}
	l, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = sim.Serve(l) }()
	defer sim.Close()
	h.sim = sim
	if h.profile != "" {
		if err := os.MkdirAll(h.profile, 0o755); err != nil {
			return err
		}
	}
	if h.dataDir, err = os.MkdirTemp("", "wagate-devices-"); err != nil {
		return err
	}
	defer os.RemoveAll(h.dataDir)
	if h.db == "postgres" {
		drop, err := h.createDatabase(ctx)
		if err != nil {
			return err
		}
		defer drop()
	}
	h.port, h.pprof = freePort(), "127.0.0.1:"+strconv.Itoa(freePort())
	if err := h.start(ctx); err != nil {
		return err
	}
	defer h.kill()
	time.Sleep(2 * time.Second)
	base := procstat.RSS(h.child.Process.Pid)
	report("gateway base RSS", "%.1f MB (%s, no devices)", mb(base), h.db)

	if ingestOnly {
		n = ingestDevs
	}
	began := time.Now()
	if err := h.linkAll(ctx, n); err != nil {
		return err
	}
	report("linked", "%d devices in %v", n, time.Since(began).Round(time.Second))
	if !ingestOnly {
		if err := h.measureIdle(ctx, "after linking", n, base, idle, settle, ""); err != nil {
			return err
		}
		for i, env := range h.restarts {
			h.env = env
			if err := h.restart(ctx, n); err != nil {
				return err
			}
			profile := "" // profiles of the last restart, which the ingest measures too
			if i == len(h.restarts)-1 {
				profile = h.profile
			}
			if err := h.measureIdle(ctx, "after restart "+env, n, base, idle, settle, profile); err != nil {
				return err
			}
		}
	}
	return h.ingest(ctx, min(ingestDevs, n), rate, ingestFor)
}

func (h *harness) createDatabase(ctx context.Context) (func(), error) {
	admin := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	name := fmt.Sprintf("wagate_bench_%d", os.Getpid())
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return nil, err
	}
	h.dbURL = "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
	return func() {
		_, _ = db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	}, nil
}

// start runs the gateway in a child process and waits until it answers /healthz.
func (h *harness) start(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	info := h.sim.Info()
	cmd := exec.Command(self, "-serve", "-pprof", h.pprof)
	cmd.Env = append(os.Environ(),
		"HOST=127.0.0.1", "PORT="+strconv.Itoa(h.port), "API_KEY="+apiKey, "DATA_DIR="+h.dataDir,
		"WHATSAPP_SERVER_URL="+info.ServerURL, "WHATSAPP_SERVER_ROOT_KEY="+info.RootKey,
		"LOG_LEVEL=warn", "LOG_FORMAT=text")
	if h.dbURL != "" {
		cmd.Env = append(cmd.Env, "DATABASE_URL="+h.dbURL)
	}
	if h.env != "" && h.env != "default" {
		cmd.Env = append(cmd.Env, h.env)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	h.child, h.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(h.exited) }()
	return poll(ctx, 60*time.Second, "the gateway to answer /healthz", func() bool {
		res, err := api.Get(h.base() + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

func (h *harness) kill() {
	if h.child != nil {
		_ = h.child.Process.Kill()
		<-h.exited
	}
}

// stop ends the gateway as a service manager would (SIGTERM) and waits for it.
func (h *harness) stop() error {
	_ = h.child.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
		return nil
	case <-time.After(2 * time.Minute):
		h.kill()
		return errors.New("the gateway did not stop within 2 minutes of SIGTERM")
	}
}

func (h *harness) base() string { return "http://127.0.0.1:" + strconv.Itoa(h.port) }

// linkAll links n devices, h.parallel at a time, through the REST API and the
// simulator's scan, and waits until all are ready.
func (h *harness) linkAll(ctx context.Context, n int) error {
	errs := make(chan error, n)
	sem := make(chan struct{}, h.parallel)
	var wg sync.WaitGroup
	h.phones = make([]string, n)
	for i := range n {
		h.phones[i] = fmt.Sprintf("1555%07d", i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := h.link(ctx, h.phones[i]); err != nil {
				errs <- fmt.Errorf("link %s: %w", h.phones[i], err)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return poll(ctx, 5*time.Minute, "every device to be ready", func() bool { return h.ready() == n })
}

func (h *harness) link(ctx context.Context, phone string) error {
	var d struct{ ID string }
	if err := h.call(ctx, "POST", "/api/v1/devices", `{"name":"`+phone+`"}`, &d); err != nil {
		return err
	}
	if err := h.call(ctx, "POST", "/api/v1/devices/"+d.ID+"/connect", "", nil); err != nil {
		// Logged rather than fatal: if a session runs all the same, its QR code shows up,
		// and the poll below fails when none does.
		log.Printf("link %s: %v; waiting for its QR code anyway", phone, err)
	}
	var qr struct{ QR string }
	if err := poll(ctx, time.Minute, "a QR code", func() bool {
		return h.call(ctx, "GET", "/api/v1/devices/"+d.ID+"/qr", "", &qr) == nil && qr.QR != ""
	}); err != nil {
		return err
	}
	_, err := h.sim.Scan(ctx, wasim.ScanRequest{QR: qr.QR, PhoneNumber: phone})
	return err
}

// ready is the number of ready devices, or -1 when the gateway does not answer.
func (h *harness) ready() int {
	var page struct{ Total int }
	if err := h.call(context.Background(), "GET", "/api/v1/devices?status=ready&limit=1", "", &page); err != nil {
		return -1
	}
	return page.Total
}

func (h *harness) call(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, h.base()+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := api.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// measureIdle waits settle, then reports the RSS over base per device and the CPU the
// gateway uses over idle; with profile set, it also saves pprof heap, CPU and goroutines.
func (h *harness) measureIdle(ctx context.Context, when string, n int, base int64, idle, settle time.Duration, profile string) error {
	time.Sleep(settle)
	pid := h.child.Process.Pid
	r := procstat.RSS(pid)
	report("RSS "+when, "%.1f MB: %.1f KB per device over the base (%d ready)", mb(r), float64(r-base)/1024/float64(n), h.ready())
	if profile != "" {
		for name, p := range map[string]string{"heap.out": "heap", "heap.txt": "heap?debug=1", "goroutine.txt": "goroutine?debug=1"} {
			if err := h.save(p, filepath.Join(profile, name)); err != nil {
				return err
			}
		}
	}
	cpu0, t0 := procstat.CPU(pid), time.Now()
	if profile != "" {
		// The CPU profile covers the idle window.
		if err := h.save("profile?seconds="+strconv.Itoa(int(idle.Seconds())), filepath.Join(profile, "cpu.out")); err != nil {
			return err
		}
	} else {
		time.Sleep(idle)
	}
	cpu := (procstat.CPU(pid) - cpu0).Seconds() / time.Since(t0).Seconds()
	report("idle CPU "+when, "%.1f %% of a core over %v (%d devices)", 100*cpu, idle, n)
	return nil
}

func (h *harness) save(profile, path string) error {
	return procstat.Save("http://"+h.pprof+"/debug/pprof/"+profile, path)
}

// restart stops the gateway, waits until the simulator sees no connection, starts it
// again and times how long until every device is ready.
func (h *harness) restart(ctx context.Context, n int) error {
	t := time.Now()
	if err := h.stop(); err != nil {
		return err
	}
	report("stop", "SIGTERM to exit: %v", time.Since(t).Round(10*time.Millisecond))
	if err := poll(ctx, time.Minute, "the simulator to see every device disconnect", func() bool { return h.sim.Stats().Connections == 0 }); err != nil {
		return err
	}
	began := time.Now()
	if err := h.start(ctx); err != nil {
		return err
	}
	up := time.Since(began)
	if h.profile != "" && h.env == h.restarts[len(h.restarts)-1] {
		// The CPU profile of the restore; it covers the first seconds after the start.
		profiled := make(chan error, 1)
		go func() { profiled <- h.save("profile?seconds=8", filepath.Join(h.profile, "cpu-restore.out")) }()
		defer func() {
			if err := <-profiled; err != nil {
				log.Printf("restore profile: %v", err)
			}
		}()
	}
	// The devices are still ready in the database (a shutdown keeps their status); each
	// restore moves its device to connecting before it connects, and to ready once it is
	// logged in. So: every device logged in at the simulator, then every device ready.
	var half time.Duration
	err := poll(ctx, 10*time.Minute, "every device logged in at the simulator after the restart", func() bool {
		in := h.sim.Stats().LoggedIn
		if in >= n/2 && half == 0 {
			half = time.Since(began)
		}
		return in == n
	})
	if err != nil {
		return err
	}
	loggedIn := time.Since(began)
	if err := poll(ctx, 5*time.Minute, "every device ready after the restart", func() bool { return h.ready() == n }); err != nil {
		return err
	}
	cpu := procstat.CPU(h.child.Process.Pid)
	report("restore "+h.env, "%d devices ready %v after the process started (HTTP up at %v, half logged in at %v, all at %v); gateway CPU %v, %.2f ms per device",
		n, time.Since(began).Round(10*time.Millisecond), up.Round(10*time.Millisecond), half.Round(10*time.Millisecond), loggedIn.Round(10*time.Millisecond),
		cpu, float64(cpu.Microseconds())/1000/float64(n))
	if st := h.sim.Stats(); st.MaxConcurrentLoginsPerDevice != 1 {
		return fmt.Errorf("a device was logged in twice at once (simulator stats %+v)", st)
	}
	return nil
}

// ingest sends rate messages/s from a simulator contact, round robin over the first
// devices, for d, and times each from the send to a root-namespace Socket.io listener
// hearing its event (which the gateway emits once the message and its event are
// committed). A first message to each device, which sets up the contact's Signal
// session with it, is timed apart beforehand.
func (h *harness) ingest(ctx context.Context, devices, rate int, d time.Duration) error {
	heard, err := h.listen(ctx)
	if err != nil {
		return err
	}
	lat, err := h.sendAt(ctx, heard, "first", devices, rate, devices)
	if err != nil {
		return err
	}
	report("ingest "+h.db+" first", "%d first messages (one per device) at %d/s: %s", devices, rate, quantiles(lat))
	total := rate * int(d.Seconds())
	if lat, err = h.sendAt(ctx, heard, "ingest", devices, rate, total); err != nil {
		return err
	}
	report("ingest "+h.db, "%d msgs at %d/s over %d devices: %s", total, rate, devices, quantiles(lat))
	return nil
}

// sendAt sends total messages at rate, the i-th to device i%devices, each from its own
// goroutine (so that a slow send does not delay the schedule), and returns the time
// each took to be heard.
func (h *harness) sendAt(ctx context.Context, heard <-chan heardEvent, prefix string, devices, rate, total int) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		sent = make(map[string]time.Time, total)
	)
	sem := make(chan struct{}, 256) // sends under way; each returns once the simulator queued it
	errs := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := range total {
			<-tick.C
			text := prefix + " " + strconv.Itoa(i)
			sem <- struct{}{}
			mu.Lock()
			sent[text] = time.Now()
			mu.Unlock()
			go func() {
				defer func() { <-sem }()
				_, err := h.sim.SendText(ctx, wasim.TextMessage{From: "15559990000", To: h.phones[i%devices], Text: text})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}()
		}
	}()
	lat := make([]time.Duration, 0, total)
	deadline := time.After(time.Duration(total/rate)*time.Second + time.Minute)
	for len(lat) < total {
		select {
		case ev := <-heard:
			mu.Lock()
			s, ok := sent[ev.text]
			mu.Unlock()
			if ok {
				lat = append(lat, ev.at.Sub(s))
			}
		case err := <-errs:
			return nil, fmt.Errorf("send: %w", err)
		case <-deadline:
			return nil, fmt.Errorf("%s: heard %d of %d messages", prefix, len(lat), total)
		}
	}
	return lat, nil
}

func quantiles(lat []time.Duration) string {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.5), q(0.99), q(1))
}

type heardEvent struct {
	text string
	at   time.Time
}

// listen joins the root namespace (every device) with the admin key over a raw
// engine.io websocket and passes on the text of every message event.
func (h *harness) listen(ctx context.Context) (<-chan heardEvent, error) {
	conn, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(h.port)+"/ws/?EIO=4&transport=websocket", nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if _, open, err := conn.Read(ctx); err != nil || len(open) == 0 || open[0] != '0' {
		return nil, fmt.Errorf("engine.io open: %q %v", open, err)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`40{"apiKey":"`+apiKey+`"}`)); err != nil {
		return nil, err
	}
	out := make(chan heardEvent, 1<<16)
	go func() {
		defer conn.CloseNow()
		for {
			_, frame, err := conn.Read(ctx)
			if err != nil {
				return
			}
			at := time.Now()
			f := string(frame)
			if f == "2" {
				_ = conn.Write(ctx, websocket.MessageText, []byte("3"))
				continue
			}
			i := strings.Index(f, `["message",`)
			if i < 0 {
				continue
			}
			var ev []json.RawMessage
			var p struct{ Message struct{ Text string } }
			if json.Unmarshal([]byte(f[i:]), &ev) == nil && len(ev) > 1 && json.Unmarshal(ev[1], &p) == nil {
				out <- heardEvent{p.Message.Text, at}
			}
		}
	}()
	return out, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func report(what, format string, args ...any) {
	fmt.Printf("%-26s "+format+"\n", append([]any{what}, args...)...)
}

func poll(ctx context.Context, limit time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
