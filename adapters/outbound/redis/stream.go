// Package redis carries, between the gateway's instances, the news that events were
// committed, on a Redis stream: each instance appends the id of the newest event it
// committed, and reads what the others append to wake its feed, which reads the events
// from the shared log. The events never travel through Redis, so an instance that
// misses an announcement (Redis down, the stream trimmed) loses nothing: it catches up
// from the log when woken again, or at its next poll.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wagate/wagate/domain/device"
)

// Options tune the stream; zero values take the defaults.
type Options struct {
	// Key is the stream's key, DefaultKey when "".
	Key string
	// MaxLen bounds the stream, approximately (MAXLEN ~), DefaultMaxLen when 0.
	MaxLen int64
	// Observer is told how talking to Redis goes (metrics); nil: nobody.
	Observer Observer
}

// Observer is told how talking to Redis goes: each failure to announce or to read, and
// whether the last attempt reached Redis. It must return at once.
type Observer interface {
	RedisFailed(op string) // op: "announce" or "read"
	RedisReachable(ok bool)
}

type noObserver struct{}

func (noObserver) RedisFailed(string)  {}
func (noObserver) RedisReachable(bool) {}

const (
	DefaultKey    = "wagate:events"
	DefaultMaxLen = 10_000
)

// The reader blocks for at most readBlock at a time: go-redis does not interrupt a
// blocking read when its context ends, so Run returns up to readBlock after ctx.
// After a failure, the reader and the writer wait from minBackoff, doubling up to
// maxBackoff: Redis coming back is noticed within maxBackoff. Failures are logged at
// most once per logEvery. sendTimeout bounds one announcement.
const (
	readBlock   = time.Second
	readCount   = 100
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = 2 * time.Second
	logEvery    = 30 * time.Second
	sendTimeout = 2 * time.Second
)

// Stream is the Redis stream the instances announce their events on.
type Stream struct {
	client *goredis.Client
	key    string
	maxLen int64
	// self tells this instance's announcements from the others' on the stream.
	self string
	log  *slog.Logger
	obs  Observer

	// pending is the newest id announced and not yet sent; kick tells the writer.
	pending atomic.Int64
	kick    chan struct{}
}

// quietOnce silences go-redis's own logger, which is process-wide and writes a line to
// stderr for every failed dial: the loops here log failures once per logEvery.
var quietOnce sync.Once

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// New connects to the Redis of url (redis://host:port/db): lazily, so that a Redis
// down at start delays nothing but the announcements.
func New(url string, log *slog.Logger, o Options) (*Stream, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	quietOnce.Do(func() { goredis.SetLogger(discard{}) })
	// Failures surface at once: the loops below retry with their own backoff.
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.DialTimeout = 2 * time.Second
	s := &Stream{client: goredis.NewClient(opts), key: o.Key, maxLen: o.MaxLen, self: rand.Text(), log: log,
		kick: make(chan struct{}, 1), obs: o.Observer}
	if s.obs == nil {
		s.obs = noObserver{}
	}
	if s.key == "" {
		s.key = DefaultKey
	}
	if s.maxLen == 0 {
		s.maxLen = DefaultMaxLen
	}
	return s, nil
}

// Close closes the connections to Redis.
func (s *Stream) Close() error { return s.client.Close() }

// Ping reports whether Redis answers.
func (s *Stream) Ping(ctx context.Context) error { return s.client.Ping(ctx).Err() }

// Announce records last as the newest event committed here; the writer sends the
// newest it holds when it can. It never blocks.
func (s *Stream) Announce(last device.EventID) {
	for {
		cur := s.pending.Load()
		if int64(last) <= cur || s.pending.CompareAndSwap(cur, int64(last)) {
			break
		}
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run sends the announcements and reads the stream until ctx ends, calling wake for each
// batch of other instances' announcements, and once after Redis comes back.
func (s *Stream) Run(ctx context.Context, wake func()) {
	var wg sync.WaitGroup
	wg.Go(func() { s.write(ctx) })
	s.read(ctx, wake)
	wg.Wait()
}

// write appends the newest pending id to the stream each time there is one newer than
// the last sent, retrying with backoff while Redis fails.
func (s *Stream) write(ctx context.Context) {
	var sent int64
	var b backoff
	var t throttle
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		id := s.pending.Load()
		if id <= sent {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err := s.client.XAdd(sctx, &goredis.XAddArgs{Stream: s.key, MaxLen: s.maxLen, Approx: true,
			Values: []string{"event", strconv.FormatInt(id, 10), "from", s.self}}).Err()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.obs.RedisFailed("announce")
			s.obs.RedisReachable(false)
			if t.due() {
				s.log.Warn("redis: announce events to the other instances", "err", err, "event", id)
			}
			if !b.wait(ctx) {
				return
			}
			s.retry()
			continue
		}
		s.obs.RedisReachable(true)
		if b.failed() {
			s.log.Info("redis: announcing events again")
		}
		b.reset()
		t.reset()
		sent = id
	}
}

func (s *Stream) retry() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// read follows the stream from where it ends when first reached, waking the feed for
// other instances' announcements; after losing Redis it wakes the feed once on coming
// back, as announcements may have been missed.
func (s *Stream) read(ctx context.Context, wake func()) {
	last := "" // the id of the last entry seen; "" until Redis was first reached
	var b backoff
	var t throttle
	for ctx.Err() == nil {
		var msgs []goredis.XMessage
		err := func() error {
			if last == "" {
				end, err := s.end(ctx)
				if err != nil {
					return err
				}
				last = end
			}
			res, err := s.client.XRead(ctx, &goredis.XReadArgs{Streams: []string{s.key, last}, Count: readCount, Block: readBlock}).Result()
			if errors.Is(err, goredis.Nil) {
				return nil
			}
			if err != nil {
				return err
			}
			for _, r := range res {
				msgs = append(msgs, r.Messages...)
			}
			return nil
		}()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.obs.RedisFailed("read")
			s.obs.RedisReachable(false)
			if t.due() {
				s.log.Warn("redis: read the other instances' announcements", "err", err)
			}
			b.wait(ctx)
			continue
		}
		others := false
		for _, m := range msgs {
			last = m.ID
			others = others || m.Values["from"] != s.self
		}
		s.obs.RedisReachable(true)
		if b.failed() {
			s.log.Info("redis: reading announcements again")
			others = true
		}
		b.reset()
		t.reset()
		if others {
			wake()
		}
	}
}

// end is the id of the stream's last entry, "0-0" when it is empty or absent.
func (s *Stream) end(ctx context.Context) (string, error) {
	msgs, err := s.client.XRevRangeN(ctx, s.key, "+", "-", 1).Result()
	if err != nil || len(msgs) == 0 {
		return "0-0", err
	}
	return msgs[0].ID, nil
}

// backoff is the wait after consecutive failures.
type backoff struct{ next time.Duration }

func (b *backoff) failed() bool { return b.next > 0 }
func (b *backoff) reset()       { b.next = 0 }

// wait sleeps for the next delay, or until ctx ends (then false).
func (b *backoff) wait(ctx context.Context) bool {
	b.next = min(max(2*b.next, minBackoff), maxBackoff)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(b.next):
		return true
	}
}

// throttle lets a failure through to the log once per logEvery while they last.
type throttle struct{ last time.Time }

func (t *throttle) reset() { t.last = time.Time{} }

func (t *throttle) due() bool {
	if time.Since(t.last) < logEvery {
		return false
	}
	t.last = time.Now()
	return true
}
