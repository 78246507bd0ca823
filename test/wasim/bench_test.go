package wasim_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/keys"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate/wagate/test/wasim"
)

// The benchmarks log in with "bare" clients: whatsmeow's own socket layer
// (FrameSocket + NoiseHandshake + NoiseSocket) doing the same handshake and
// login as whatsmeow.Client, without a device store. That is all the
// simulator sees of a connected client, and it lets one process hold
// thousands of them.

func TestMain(m *testing.M) {
	if os.Getenv("WASIM_BENCH_CHILD") != "" {
		os.Exit(runBenchChild())
	}
	os.Exit(m.Run())
}

// benchNoiseKey is the Noise key of bench device i, known to both the
// simulator child process and the clients.
func benchNoiseKey(i int) *keys.KeyPair {
	sum := sha256.Sum256([]byte("wasim bench noise key " + strconv.Itoa(i)))
	sum[0] &= 248
	sum[31] &= 127
	sum[31] |= 64
	return keys.NewKeyPairFromPrivateKey(sum)
}

func benchPhone(i int) uint64 { return 19990000000 + uint64(i) }

// bareLogin connects and logs in as device 1 of phone, returning once the
// server answered <success>.
func bareLogin(ctx context.Context, serverURL string, noise *keys.KeyPair, phone uint64) (*socket.NoiseSocket, error) {
	fs := socket.NewFrameSocket(waLog.Noop, nil)
	fs.URL = serverURL
	if err := fs.Connect(ctx); err != nil {
		return nil, err
	}
	fail := func(err error) (*socket.NoiseSocket, error) {
		fs.Close(0)
		return nil, err
	}
	eph := keys.NewKeyPair()
	nh := socket.NewNoiseHandshake()
	nh.Start(socket.NoiseStartPattern, fs.Header)
	nh.Authenticate(eph.Pub[:])
	hello, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientHello: &waWa6.HandshakeMessage_ClientHello{Ephemeral: eph.Pub[:]}})
	if err := fs.SendFrame(hello); err != nil {
		return fail(err)
	}
	var raw []byte
	select {
	case raw = <-fs.Frames:
	case <-time.After(30 * time.Second):
		return fail(errors.New("no server hello"))
	}
	var resp waWa6.HandshakeMessage
	if err := proto.Unmarshal(raw, &resp); err != nil {
		return fail(err)
	}
	serverEph := resp.GetServerHello().GetEphemeral()
	if len(serverEph) != 32 {
		return fail(errors.New("bad server hello"))
	}
	nh.Authenticate(serverEph)
	if err := nh.MixSharedSecretIntoKey(*eph.Priv, [32]byte(serverEph)); err != nil {
		return fail(err)
	}
	static, err := nh.Decrypt(resp.GetServerHello().GetStatic())
	if err != nil || len(static) != 32 {
		return fail(fmt.Errorf("server static: %v", err))
	}
	if err := nh.MixSharedSecretIntoKey(*eph.Priv, [32]byte(static)); err != nil {
		return fail(err)
	}
	if _, err := nh.Decrypt(resp.GetServerHello().GetPayload()); err != nil {
		return fail(err)
	}
	encStatic := nh.Encrypt(noise.Pub[:])
	if err := nh.MixSharedSecretIntoKey(*noise.Priv, [32]byte(serverEph)); err != nil {
		return fail(err)
	}
	payload, _ := proto.Marshal(&waWa6.ClientPayload{Username: proto.Uint64(phone), Device: proto.Uint32(1), Passive: proto.Bool(true)})
	finish, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientFinish: &waWa6.HandshakeMessage_ClientFinish{
		Static: encStatic, Payload: nh.Encrypt(payload),
	}})
	if err := fs.SendFrame(finish); err != nil {
		return fail(err)
	}
	nodes := make(chan *waBinary.Node, 8)
	ns, err := nh.Finish(ctx, fs, func(_ context.Context, frame []byte) {
		if data, err := waBinary.Unpack(frame); err == nil {
			if node, err := waBinary.Unmarshal(data); err == nil {
				select {
				case nodes <- node:
				default:
				}
			}
		}
	}, func(context.Context, *socket.NoiseSocket, bool) {})
	if err != nil {
		return fail(err)
	}
	select {
	case node := <-nodes:
		if node.Tag != "success" {
			ns.Stop(true, false)
			return nil, fmt.Errorf("login answered with %s", node)
		}
		return ns, nil
	case <-time.After(30 * time.Second):
		ns.Stop(true, false)
		return nil, errors.New("no login answer")
	}
}

// BenchmarkLogin measures a full connection: websocket, Noise handshake,
// login and close, one device per operation.
func BenchmarkLogin(b *testing.B) {
	srv := startServer(b)
	for i := range b.N {
		srv.ProvisionDevice(strconv.FormatUint(benchPhone(i), 10), *benchNoiseKey(i).Pub, [32]byte{})
	}
	noiseKeys := make([]*keys.KeyPair, b.N)
	for i := range noiseKeys {
		noiseKeys[i] = benchNoiseKey(i)
	}
	ctx := b.Context()
	b.ResetTimer()
	for i := range b.N {
		ns, err := bareLogin(ctx, srv.URL(), noiseKeys[i], benchPhone(i))
		if err != nil {
			b.Fatal(err)
		}
		ns.Stop(true, false)
	}
}

// childMemory is what the simulator child process reports at start.
type childMemory struct {
	URL         string `json:"url"`
	Empty       uint64 `json:"empty"`       // heap+stack in use before any device
	Provisioned uint64 `json:"provisioned"` // after linking the devices
}

// runBenchChild is the simulator side of BenchmarkMemoryPerConnection, in
// its own process so that the clients' memory is not counted.
func runBenchChild() int {
	n, _ := strconv.Atoi(os.Getenv("WASIM_BENCH_CHILD"))
	srv, err := wasim.New(wasim.Options{RootKey: wasim.TestRootKey})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	inUse := func() uint64 {
		st := srv.Stats()
		return st.HeapInuseBytes + st.StackInuseBytes
	}
	var mem childMemory
	mem.URL = srv.URL()
	gcStats := func() uint64 {
		for range 2 {
			runtime.GC()
		}
		return inUse()
	}
	mem.Empty = gcStats()
	for i := range n {
		srv.ProvisionDevice(strconv.FormatUint(benchPhone(i), 10), *benchNoiseKey(i).Pub, [32]byte{})
	}
	mem.Provisioned = gcStats()
	out, _ := json.Marshal(mem)
	fmt.Println(string(out))
	go func() {
		// The parent closes our stdin when it is done.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		_ = srv.Close()
	}()
	_ = srv.Serve(l)
	return 0
}

// BenchmarkMemoryPerConnection links N devices (WASIM_BENCH_CONNS, default
// 1000) in a simulator child process, logs all of them in at once with bare
// clients, and reports the child's memory growth per linked device and per
// logged-in connection (Go heap + goroutine stacks after GC), and its RSS.
func BenchmarkMemoryPerConnection(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WASIM_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	// One operation is one whole measurement (child start, N logins).
	for range b.N {
		measureMemory(b, n)
	}
}

func measureMemory(b *testing.B, n int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "WASIM_BENCH_CHILD="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("child: %v", err)
	}
	var mem childMemory
	if err := json.Unmarshal([]byte(line), &mem); err != nil {
		b.Fatalf("child said %q: %v", line, err)
	}

	ctx := context.Background()
	conns := make([]*socket.NoiseSocket, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ns, err := bareLogin(ctx, mem.URL, benchNoiseKey(i), benchPhone(i))
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			conns[i] = ns
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	defer func() {
		for _, ns := range conns {
			if ns != nil {
				ns.Stop(true, false)
			}
		}
	}()
	if firstErr != nil {
		b.Fatalf("login: %v", firstErr)
	}

	base := strings.Replace(strings.TrimSuffix(mem.URL, "/ws/chat"), "ws://", "http://", 1)
	resp, err := http.Get(base + "/control/stats?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	var st wasim.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if st.LoggedIn != n {
		b.Fatalf("child reports %d logged in, want %d", st.LoggedIn, n)
	}
	connected := st.HeapInuseBytes + st.StackInuseBytes
	perDevice := float64(mem.Provisioned-mem.Empty) / float64(n)
	perConn := float64(connected-mem.Provisioned) / float64(n)
	rss := processRSS(cmd.Process.Pid)
	b.ReportMetric(perConn, "B/conn")
	b.ReportMetric(perDevice, "B/device")
	b.ReportMetric(float64(rss)/float64(n), "RSS-B/conn")
	b.ReportMetric(float64(st.Goroutines)/float64(n), "goroutines/conn")
	b.Logf("%d devices logged in in %v; simulator heap+stack: %d B empty, %d B with %d linked devices, %d B with all connected; RSS %d B; %d goroutines",
		n, elapsed.Round(time.Millisecond), mem.Empty, mem.Provisioned, n, connected, rss, st.Goroutines)
}

// processRSS reads VmRSS of a process from /proc (0 where there is none).
func processRSS(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
