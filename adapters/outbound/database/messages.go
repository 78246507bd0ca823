package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Messages keeps the messages of devices.
type Messages struct {
	db      *bun.DB
	journal *journal // the transactions that append events
	now     func() time.Time
}

var _ device.Messages = (*Messages)(nil)

type messageRow struct {
	bun.BaseModel `bun:"table:messages"`

	Seq       int64          `bun:"seq,pk,autoincrement"`
	DeviceID  string         `bun:"device_id,notnull"`
	MessageID string         `bun:"message_id,notnull"`
	Chat      string         `bun:"chat,notnull"`
	Sender    string         `bun:"sender,notnull"`
	FromMe    bool           `bun:"from_me,notnull"`
	Payload   sql.NullString `bun:"payload"`
	Raw       []byte         `bun:"raw,notnull"`
	CreatedAt time.Time      `bun:"created_at,notnull"` // when first kept
}

func (s *Messages) row(id device.ID, m device.Stored) (*messageRow, error) {
	p, err := json.Marshal(device.MessagePayload(m.Message))
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.Message.ID, err)
	}
	raw := m.Raw
	if raw == nil {
		raw = []byte{}
	}
	return &messageRow{
		DeviceID: id.String(), MessageID: m.Message.ID, Chat: m.Message.Chat, Sender: m.Message.Sender.JID,
		FromMe: m.Message.FromMe, Payload: sql.NullString{String: string(p), Valid: true}, Raw: raw, CreatedAt: s.now().UTC(),
	}, nil
}

// Receive inserts the message unless its identity is kept already, and appends its
// event in the same transaction.
func (s *Messages) Receive(ctx context.Context, e device.MessageReceived, raw []byte) (bool, error) {
	row, err := s.row(e.DeviceID, device.Stored{Message: e.Message, Raw: raw})
	if err != nil {
		return false, err
	}
	added := false
	err = s.journal.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := checkFence(ctx, tx, e.DeviceID); err != nil {
			return err
		}
		res, err := tx.NewInsert().Model(row).
			On("CONFLICT (device_id, message_id, chat, sender) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("store message %s: %w", e.Message.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // delivered again
		}
		added = true
		return appendEvents(ctx, tx, []device.Event{e})
	})
	return added && err == nil, err
}

// Keep stores a sent message; the same identity kept before is replaced, keeping its
// place in the history and its created_at, so that the first of the messages sharing
// an id stays first (see Find).
func (s *Messages) Keep(ctx context.Context, id device.ID, m device.Stored) error {
	row, err := s.row(id, m)
	if err != nil {
		return err
	}
	_, err = s.db.NewInsert().Model(row).
		On("CONFLICT (device_id, message_id, chat, sender) DO UPDATE").
		Set("from_me = EXCLUDED.from_me, payload = EXCLUDED.payload, raw = EXCLUDED.raw").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store message %s: %w", m.Message.ID, err)
	}
	return nil
}

// Find returns the kept messages with an id, first kept first: when several senders used
// the id in one chat, the first is the original, since a copy can only follow it.
func (s *Messages) Find(ctx context.Context, id device.ID, q device.MessageQuery) ([]device.Stored, error) {
	var rows []messageRow
	sel := s.db.NewSelect().Model(&rows).Where("device_id = ? AND message_id = ?", id.String(), q.ID)
	if len(q.Chats) > 0 {
		sel = sel.Where("chat IN (?)", bun.List(q.Chats))
	}
	if len(q.Senders) > 0 {
		sel = sel.Where("sender IN (?)", bun.List(q.Senders))
	}
	if err := sel.Order("seq").Limit(int64(q.Limit)).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load message %s: %w", q.ID, err)
	}
	out := make([]device.Stored, len(rows))
	for i, r := range rows {
		out[i].Message.ID, out[i].Message.Chat, out[i].Message.Sender.JID, out[i].Message.FromMe = r.MessageID, r.Chat, r.Sender, r.FromMe
		out[i].Raw = r.Raw
	}
	return out, nil
}

// History pages by seq, newest first; the cursor is the seq of the last message shown.
func (s *Messages) History(ctx context.Context, id device.ID, q device.HistoryQuery) (device.History, error) {
	var rows []messageRow
	sel := s.db.NewSelect().Model(&rows).Column("seq", "payload").
		Where("device_id = ? AND payload IS NOT NULL", id.String()).Order("seq DESC").Limit(int64(q.Limit) + 1)
	if q.Chat != "" {
		sel = sel.Where("chat = ?", q.Chat)
	}
	if q.Before != "" {
		before, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil || before < 0 {
			return device.History{}, domain.Errorf(domain.KindInvalid, "before must be the next cursor of a previous page")
		}
		sel = sel.Where("seq < ?", before)
	}
	if err := sel.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return device.History{}, fmt.Errorf("list messages: %w", err)
	}
	h := device.History{Messages: make([]json.RawMessage, 0, len(rows))}
	for i, r := range rows {
		if i == q.Limit {
			h.Next = strconv.FormatInt(rows[i-1].Seq, 10)
			break
		}
		h.Messages = append(h.Messages, json.RawMessage(r.Payload.String))
	}
	return h, nil
}

func (s *Messages) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	oldest := s.db.NewSelect().Model((*messageRow)(nil)).Column("seq").Where("created_at < ?", before.UTC()).Order("seq").Limit(int64(limit))
	res, err := s.db.NewDelete().Model((*messageRow)(nil)).Where("seq IN (?)", oldest).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune messages: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
