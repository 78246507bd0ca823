package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Log is the event log in memory. The repository and the message store append to it
// under their own locks, so that a change and its events appear together.
type Log struct {
	mu      sync.Mutex
	records []device.Record
	last    device.EventID
}

var _ device.EventLog = (*Log)(nil)

func NewLog() *Log { return &Log{} }

// append numbers and keeps events.
func (l *Log) append(events []device.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		r, err := device.NewRecord(e, l.last+1)
		if err != nil {
			return err
		}
		l.records = append(l.records, r)
		l.last = r.ID
	}
	return nil
}

func (l *Log) Read(_ context.Context, q device.LogQuery) ([]device.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.records, q.After+1, func(r device.Record, id device.EventID) int { return int(r.ID - id) })
	var out []device.Record
	for ; i < len(l.records) && len(out) < q.Limit; i++ {
		if r := l.records[i]; q.Devices == nil || slices.Contains(q.Devices, r.DeviceID) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *Log) Last(context.Context) (device.EventID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, nil
}

func (l *Log) Prune(_ context.Context, before time.Time, limit int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.records) && n < limit && l.records[n].At.Before(before) {
		n++
	}
	l.records = slices.Delete(l.records, 0, n)
	return n, nil
}

// Store is a device repository and a message store that append to one event log.
type Store struct {
	Devices  *Repository
	Messages *Messages
	Log      *Log
}

func NewStore() Store {
	log := NewLog()
	msgs := NewMessages(log)
	return Store{Devices: NewRepository(log, msgs), Messages: msgs, Log: log}
}
