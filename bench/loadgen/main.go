// Command loadgen measures the fan-out of wagate's Socket.io gateway against the Node.js
// socket.io server: it starts each server (bench/gateway, bench/peer) pinned to one
// core, connects listeners to it over raw websockets (client.go), has it publish events
// through its control route, and prints one table of medians, min–max and the ratio of
// wagate to Node. Every scenario runs in every round, the servers alternating which goes
// first, each on a fresh process. See BENCHMARKS.md.
package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wagate/wagate/bench/internal/procstat"
)

type server struct {
	name string
	argv []string
}

func main() {
	wagate := flag.String("wagate", "bin/bench-gateway", "the wagate gateway command (bench/gateway)")
	node := flag.String("node", "node bench/peer/server.mjs", "the Node.js socket.io command (bench/peer)")
	runs := flag.Int("runs", 5, "rounds; each runs every scenario once on each server")
	quick := flag.Bool("quick", false, "2 rounds and shorter scenarios")
	only := flag.String("only", "", "run the scenarios whose name contains this")
	flag.StringVar(&heapProfile, "heap", "", "write the heap and goroutine profiles of wagate with idle listeners to this file (.heap, .goroutine)")
	cpu := flag.String("cpu", "0", "the core the servers are pinned to (taskset -c); empty for none")
	flag.Parse()
	if *quick {
		*runs = min(*runs, 2)
	}
	servers := []server{{"node", strings.Fields(*node)}, {"wagate", strings.Fields(*wagate)}}
	var chosen []scenario
	for _, s := range scenarios(*quick) {
		if strings.Contains(s.name, *only) {
			chosen = append(chosen, s)
		}
	}
	results := map[string]map[string][]sample{} // scenario -> server -> one sample a run
	for r := range *runs {
		for _, sc := range chosen {
			order := slices.Clone(servers)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				m, err := measure(s, *cpu, sc)
				if err != nil {
					fmt.Fprintf(os.Stderr, "round %d %s %s: %v\n", r+1, sc.name, s.name, err)
				} else {
					fmt.Fprintf(os.Stderr, "round %d %-28s %-7s %s\n", r+1, sc.name, s.name, m)
				}
				if results[sc.name] == nil {
					results[sc.name] = map[string][]sample{}
				}
				results[sc.name][s.name] = append(results[sc.name][s.name], sample{m, err})
			}
		}
	}
	table(chosen, results)
}

// measure starts the server, runs one scenario against it, and stops it.
func measure(s server, cpu string, sc scenario) (metrics, error) {
	p, err := start(s, cpu)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	return sc.run(p)
}

// proc is a running server.
type proc struct {
	name string
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

func start(s server, cpu string) (*proc, error) {
	argv := s.argv
	if cpu != "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			argv = append([]string{"taskset", "-c", cpu}, argv...)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: s.name, cmd: cmd, done: make(chan struct{})}
	ready := make(chan int, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		port, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "listening ")))
		ready <- port
		if err == nil {
			_, _ = io.Copy(io.Discard, out)
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case p.port = <-ready:
		if p.port == 0 {
			p.stop()
			return nil, fmt.Errorf("%s did not say where it listens", s.name)
		}
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not start within 15s", s.name)
	}
	return p, nil
}

// stop terminates the server, and kills it if it has not ended within 5 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpu is the CPU time the server has used, user and system.
func (p *proc) cpu() time.Duration { return procstat.CPU(p.cmd.Process.Pid) }

// rss is the server's resident memory, in bytes.
func (p *proc) rss() int64 { return procstat.RSS(p.cmd.Process.Pid) }

// heapProfile is where the idle scenario saves wagate's heap profile, if anywhere.
var heapProfile string

// save writes what the server serves at path to a file.
func (p *proc) save(path, file string) error {
	return procstat.Save(fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path), file)
}

// publish has the server publish count events to each of devices, rate a second.
func (p *proc) publish(devices, count, rate int) error {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/bench/publish?devices=%d&count=%d&rate=%d", p.port, devices, count, rate))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	discard(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: %s", resp.Status)
	}
	return nil
}

// metrics are a scenario's figures, by name.
type metrics map[string]float64

func (m metrics) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, m[k]))
	}
	return strings.Join(parts, " ")
}

type sample struct {
	m   metrics
	err error
}

// A figure of a scenario, and whether more is better.
type figure struct {
	name   string
	higher bool
}

type scenario struct {
	name    string
	figures []figure
	run     func(p *proc) (metrics, error)
}

func scenarios(quick bool) []scenario {
	scale := func(full, short int) int {
		if quick {
			return short
		}
		return full
	}
	return []scenario{
		burst("1 ns x 100 listeners", 1, 100, scale(2000, 1000)),
		burst("1 ns x 1,000 listeners", 1, 1000, scale(300, 150)),
		burst("1,000 ns x 1 listener", 1000, 1, scale(200, 100)),
		steady("100 listeners at 20k/s", 100, 200, scale(5, 3)),
		idle("idle, 5,000 listeners", 5000, 50),
		handshakes("handshakes", scale(3000, 1500), 64),
	}
}

const (
	deliveriesPerSec = "deliveries/s"
	cpuPerDelivery   = "CPU µs/delivery"
	// generatorCPU tells whether the generator limited a run: near 100 % of its core, it did.
	generatorCPU = "generator CPU %"
)

// selfCPU is the CPU time the generator has used, user and system.
func selfCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// burst: listeners on each of devices namespaces; each device gets count events as fast
// as the server publishes them. The time is from the request to the last delivery.
func burst(name string, devices, perDevice, count int) scenario {
	return scenario{name: name, figures: []figure{{deliveriesPerSec, true}, {cpuPerDelivery, false}, {generatorCPU, false}}, run: func(p *proc) (metrics, error) {
		ls, err := connectAll(&dialer, p.port, devices*perDevice, devices)
		if err != nil {
			return nil, err
		}
		defer closeAll(ls)
		time.Sleep(300 * time.Millisecond) // the welcome states are out
		ph := &phase{expect: count}
		begin(ls, ph)
		cpu0, self0, t0 := p.cpu(), selfCPU(), time.Now()
		published := make(chan error, 1)
		go func() { published <- p.publish(devices, count, 0) }()
		if err := wait(ph, ls, 120*time.Second); err != nil {
			return nil, err
		}
		elapsed, cpu, self := time.Since(t0), p.cpu()-cpu0, selfCPU()-self0
		if err := <-published; err != nil {
			return nil, err
		}
		n := float64(len(ls) * count)
		return metrics{deliveriesPerSec: n / elapsed.Seconds(), cpuPerDelivery: float64(cpu.Microseconds()) / n,
			generatorCPU: 100 * self.Seconds() / elapsed.Seconds()}, nil
	}}
}

// steady: listeners on one namespace, rate events a second for secs seconds: the
// latency from when the server built an event to its reception, and the server's CPU.
func steady(name string, listeners, rate, secs int) scenario {
	return scenario{name: name, figures: []figure{{"p99 ms", false}, {"p50 ms", false}, {"server CPU %", false}}, run: func(p *proc) (metrics, error) {
		ls, err := connectAll(&dialer, p.port, listeners, 1)
		if err != nil {
			return nil, err
		}
		defer closeAll(ls)
		time.Sleep(300 * time.Millisecond)
		count := rate * secs
		ph := &phase{expect: count, latency: true, samples: make([]int64, 0, count*listeners)}
		begin(ls, ph)
		cpu0, t0 := p.cpu(), time.Now()
		if err := p.publish(1, count, rate); err != nil {
			return nil, err
		}
		if err := wait(ph, ls, 30*time.Second); err != nil {
			return nil, err
		}
		elapsed, cpu := time.Since(t0), p.cpu()-cpu0
		slices.Sort(ph.samples)
		q := func(f float64) float64 { return float64(ph.samples[int(f*float64(len(ph.samples)-1))]) / 1000 }
		return metrics{"p99 ms": q(0.99), "p50 ms": q(0.50), "server CPU %": 100 * cpu.Seconds() / elapsed.Seconds()}, nil
	}}
}

// idle: the server's resident memory grown by n listeners spread over devices
// namespaces, once they are connected and quiet.
func idle(name string, n, devices int) scenario {
	return scenario{name: name, figures: []figure{{"KB/listener", false}}, run: func(p *proc) (metrics, error) {
		time.Sleep(500 * time.Millisecond)
		before := p.rss()
		ls, err := connectAll(&small, p.port, n, devices)
		if err != nil {
			return nil, err
		}
		defer closeAll(ls)
		time.Sleep(3 * time.Second)
		rss := p.rss()
		if heapProfile != "" && p.name == "wagate" {
			// The heap after a collection, its text form (which ends with the runtime's
			// memory statistics: stacks, heap), and the goroutines.
			for suffix, path := range map[string]string{".heap": "heap?gc=1", ".txt": "heap?gc=1&debug=1", ".goroutine": "goroutine"} {
				if err := p.save("/debug/pprof/"+path, heapProfile+suffix); err != nil {
					return nil, err
				}
			}
		}
		return metrics{"KB/listener": float64(rss-before) / float64(n) / 1024}, nil
	}}
}

// handshakes: n listeners connect, join a device namespace with the key and leave,
// workers at a time.
func handshakes(name string, n, workers int) scenario {
	return scenario{name: name, figures: []figure{{"handshakes/s", true}, {"CPU µs/handshake", false}, {generatorCPU, false}}, run: func(p *proc) (metrics, error) {
		var wg sync.WaitGroup
		next := make(chan int, n)
		for i := range n {
			next <- i
		}
		close(next)
		errs := make(chan error, workers)
		cpu0, self0, t0 := p.cpu(), selfCPU(), time.Now()
		for range workers {
			wg.Go(func() {
				for i := range next {
					l, err := join(&small, p.port, 1+i%100)
					if err != nil {
						errs <- err
						return
					}
					_ = l.conn.Close()
				}
			})
		}
		wg.Wait()
		elapsed, cpu, self := time.Since(t0), p.cpu()-cpu0, selfCPU()-self0
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
		return metrics{"handshakes/s": float64(n) / elapsed.Seconds(), "CPU µs/handshake": float64(cpu.Microseconds()) / float64(n),
			generatorCPU: 100 * self.Seconds() / elapsed.Seconds()}, nil
	}}
}

// wait waits for every listener to have its messages; past timeout, or when one saw a
// gap, a duplicate or its connection close, nothing was delivered as it should.
func wait(ph *phase, ls []*listener, timeout time.Duration) error {
	done := make(chan struct{})
	go func() { ph.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		missing := 0
		for _, l := range ls {
			// A data race on got, read while readers may still run: only a count for
			// the error message.
			missing += max(0, ph.expect-l.got)
		}
		return fmt.Errorf("LOSS: %d deliveries missing after %s", missing, timeout)
	}
	if n := ph.errs.Load(); n > 0 {
		var first error
		for _, l := range ls {
			first = cmp.Or(first, l.err)
		}
		return fmt.Errorf("LOSS: %d listeners saw a gap, duplicate or close; first: %w", n, cmp.Or(first, errors.New("?")))
	}
	return nil
}

// table prints, for each figure of each scenario, each server's median and min–max, and
// the ratio of wagate's median to Node's.
func table(chosen []scenario, results map[string]map[string][]sample) {
	fmt.Printf("\n| scenario | figure | node median (min–max) | wagate median (min–max) | wagate / node |\n|---|---|---|---|---|\n")
	for _, sc := range chosen {
		for _, f := range sc.figures {
			var med [2]float64
			cells := make([]string, 2)
			for i, name := range []string{"node", "wagate"} {
				var vs []float64
				failed := 0
				for _, s := range results[sc.name][name] {
					if s.err != nil {
						failed++
						continue
					}
					vs = append(vs, s.m[f.name])
				}
				if len(vs) == 0 {
					cells[i] = fmt.Sprintf("failed (%d runs)", failed)
					continue
				}
				slices.Sort(vs)
				med[i] = median(vs)
				cells[i] = fmt.Sprintf("%s (%s–%s)", num(med[i]), num(vs[0]), num(vs[len(vs)-1]))
				if failed > 0 {
					cells[i] += fmt.Sprintf(", %d runs FAILED", failed)
				}
			}
			ratio := "–"
			if med[0] > 0 && med[1] > 0 {
				better := "lower is better"
				if f.higher {
					better = "higher is better"
				}
				ratio = fmt.Sprintf("%.2f× (%s)", med[1]/med[0], better)
			}
			fmt.Printf("| %s | %s | %s | %s | %s |\n", sc.name, f.name, cells[0], cells[1], ratio)
		}
	}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func num(v float64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
