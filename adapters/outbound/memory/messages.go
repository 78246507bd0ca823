package memory

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Messages keeps messages in memory, in the order they were stored.
type Messages struct {
	mu   sync.Mutex
	log  *Log
	kept []kept
}

type kept struct {
	device device.ID
	device.Stored
	at time.Time // when stored
}

func (k kept) same(id device.ID, m device.Stored) bool {
	return k.device == id && k.Message.ID == m.Message.ID && k.Message.Chat == m.Message.Chat && k.Message.Sender.JID == m.Message.Sender.JID
}

var _ device.Messages = (*Messages)(nil)

func NewMessages(log *Log) *Messages { return &Messages{log: log} }

func (s *Messages) Receive(_ context.Context, e device.MessageReceived, raw []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := device.Stored{Message: e.Message, Raw: raw}
	if slices.ContainsFunc(s.kept, func(k kept) bool { return k.same(e.DeviceID, m) }) {
		return false, nil
	}
	if err := s.log.append([]device.Event{e}); err != nil {
		return false, err
	}
	s.kept = append(s.kept, kept{e.DeviceID, m, e.At})
	return true, nil
}

func (s *Messages) Keep(_ context.Context, id device.ID, m device.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.kept, func(k kept) bool { return k.same(id, m) }); i >= 0 {
		s.kept[i].Stored = m
		return nil
	}
	s.kept = append(s.kept, kept{id, m, time.Now()})
	return nil
}

func (s *Messages) Find(_ context.Context, id device.ID, q device.MessageQuery) ([]device.Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []device.Stored
	for _, k := range s.kept {
		if k.device == id && k.Message.ID == q.ID && len(out) < q.Limit &&
			(len(q.Chats) == 0 || slices.Contains(q.Chats, k.Message.Chat)) &&
			(len(q.Senders) == 0 || slices.Contains(q.Senders, k.Message.Sender.JID)) {
			out = append(out, k.Stored)
		}
	}
	return out, nil
}

// History pages by position: the cursor is the index of the last message shown.
func (s *Messages) History(_ context.Context, id device.ID, q device.HistoryQuery) (device.History, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := len(s.kept)
	if q.Before != "" {
		n, err := strconv.Atoi(q.Before)
		if err != nil || n < 0 || n > len(s.kept) {
			return device.History{}, domain.Errorf(domain.KindInvalid, "before is not a cursor this gateway gave")
		}
		end = n
	}
	h := device.History{Messages: []json.RawMessage{}}
	for i := end - 1; i >= 0; i-- {
		k := s.kept[i]
		if k.device != id || (q.Chat != "" && k.Message.Chat != q.Chat) {
			continue
		}
		if len(h.Messages) == q.Limit {
			h.Next = strconv.Itoa(i + 1)
			break
		}
		b, err := json.Marshal(device.MessagePayload(k.Message))
		if err != nil {
			return device.History{}, err
		}
		h.Messages = append(h.Messages, b)
	}
	return h, nil
}

func (s *Messages) Prune(_ context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	s.kept = slices.DeleteFunc(s.kept, func(k kept) bool {
		if n < limit && k.at.Before(before) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

// deleteDevice forgets the device's messages.
func (s *Messages) deleteDevice(id device.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = slices.DeleteFunc(s.kept, func(k kept) bool { return k.device == id })
}
