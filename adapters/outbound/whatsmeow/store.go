package whatsmeow

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/adapters/outbound/whatsmeow/msgconv"
	"github.com/wagate/wagate/domain/device"
)

// upgradeLockKey identifies whatsmeow's schema upgrade among PostgreSQL advisory locks.
const upgradeLockKey = 0x77616d656f77 // "wameow"

// Exclusive runs fn while no other gateway on db runs fn with the same key. The database
// adapter provides it (database.Exclusively); New takes it as a parameter because adapters
// do not import each other.
type Exclusive func(ctx context.Context, db *bun.DB, key int64, fn func() error) error

// openStore wraps db in a whatsmeow session store and brings its whatsmeow_* tables up
// to date. whatsmeow's upgrade takes no lock of its own, so it runs exclusively: gateways
// starting together upgrade one after the other.
func openStore(ctx context.Context, db *bun.DB, exclusively Exclusive, log waLog.Logger) (*sqlstore.Container, error) {
	storeDialect := "sqlite"
	if db.Dialect().Name() == dialect.PG {
		storeDialect = "postgres"
	}
	container := sqlstore.NewWithDB(db.DB, storeDialect, log)
	err := exclusively(ctx, db, upgradeLockKey, func() error { return container.Upgrade(ctx) })
	if err != nil {
		return nil, fmt.Errorf("whatsmeow store: upgrade (SQLite needs foreign keys on): %w", err)
	}
	return container, nil
}

// loadDevice returns the stored whatsmeow device of jid, or nil when there is none.
func loadDevice(ctx context.Context, c *sqlstore.Container, jid string) (*store.Device, error) {
	j, err := types.ParseJID(jid)
	if err != nil || j.User == "" {
		return nil, nil // not a JID whatsmeow could have stored
	}
	return c.GetDevice(ctx, j)
}

// deleteDevice deletes the stored whatsmeow device of jid and, through the foreign keys,
// all its keys and sessions. It does not touch a *store.Device a client may be using.
func deleteDevice(ctx context.Context, c *sqlstore.Container, jid string) error {
	j, err := types.ParseJID(jid)
	if err != nil || j.User == "" {
		return nil
	}
	if err := c.DeleteDevice(ctx, &store.Device{ID: &j}); err != nil {
		return fmt.Errorf("delete whatsmeow device %s: %w", jid, err)
	}
	return nil
}

// messageRow is a message kept for replies, reactions and media downloads. Message ids
// are chosen by their senders, so a row is keyed by chat and sender too: a group member
// who reuses another's id adds a row and replaces nothing of the other's message.
type messageRow struct {
	bun.BaseModel `bun:"table:whatsapp_messages"`

	DeviceID  string    `bun:"device_id,pk"`
	MessageID string    `bun:"message_id,pk"`
	Chat      string    `bun:"chat,pk"`
	Sender    string    `bun:"sender,pk"`
	FromMe    bool      `bun:"from_me,notnull"`
	Content   []byte    `bun:"content,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"` // when first kept
}

// keptMessage is a message found in the table.
type keptMessage struct {
	Chat    types.JID
	Sender  types.JID
	FromMe  bool
	Message *waE2E.Message
}

type messages struct {
	db  *bun.DB
	now func() time.Time // when a message is kept
}

// put keeps msg (without its thumbnails) for the device. The same sender delivering the
// same message again updates its content; its created_at stays, so that the first of the
// messages sharing an id stays first (see find).
func (s messages) put(ctx context.Context, id device.ID, msgID string, chat, sender types.JID, fromMe bool, msg *waE2E.Message) error {
	content, err := proto.Marshal(msgconv.Trim(msg))
	if err != nil {
		return fmt.Errorf("marshal message %s: %w", msgID, err)
	}
	row := &messageRow{
		DeviceID: id.String(), MessageID: msgID, Chat: chat.ToNonAD().String(), Sender: sender.ToNonAD().String(),
		FromMe: fromMe, Content: content, CreatedAt: s.now().UTC(),
	}
	_, err = s.db.NewInsert().Model(row).
		On("CONFLICT (device_id, message_id, chat, sender) DO UPDATE").
		Set("from_me = EXCLUDED.from_me, content = EXCLUDED.content").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store message %s: %w", msgID, err)
	}
	return nil
}

// find returns up to limit kept messages of the device with the id msgID, in chats (any
// when empty) from senders (any when empty), first kept first. When several senders used
// the id in one chat, the first is the original: a copy of an id can only follow the
// message it copies. Ties (same instant) go by sender, so that the answer is the same
// every time.
func (s messages) find(ctx context.Context, id device.ID, msgID string, chats, senders []types.JID, limit int) ([]keptMessage, error) {
	var rows []messageRow
	q := s.db.NewSelect().Model(&rows).Where("device_id = ? AND message_id = ?", id.String(), msgID)
	if len(chats) > 0 {
		q = q.Where("chat IN (?)", bun.In(jidStrings(chats)))
	}
	if len(senders) > 0 {
		q = q.Where("sender IN (?)", bun.In(jidStrings(senders)))
	}
	if err := q.Order("created_at", "chat", "sender").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load message %s: %w", msgID, err)
	}
	kept := make([]keptMessage, len(rows))
	for i, row := range rows {
		k := keptMessage{FromMe: row.FromMe, Message: &waE2E.Message{}}
		if err := proto.Unmarshal(row.Content, k.Message); err != nil {
			return nil, fmt.Errorf("load message %s: %w", msgID, err)
		}
		k.Chat, _ = types.ParseJID(row.Chat)
		k.Sender, _ = types.ParseJID(row.Sender)
		kept[i] = k
	}
	return kept, nil
}

// first returns the first kept message with the id in one of chats, or nil.
func (s messages) first(ctx context.Context, id device.ID, msgID string, chats []types.JID) (*keptMessage, error) {
	kept, err := s.find(ctx, id, msgID, chats, nil, 1)
	if err != nil || len(kept) == 0 {
		return nil, err
	}
	return &kept[0], nil
}

func jidStrings(js []types.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ToNonAD().String()
	}
	return out
}

// deleteDevice forgets every message of the device.
func (s messages) deleteDevice(ctx context.Context, id device.ID) error {
	if _, err := s.db.NewDelete().Model((*messageRow)(nil)).Where("device_id = ?", id.String()).Exec(ctx); err != nil {
		return fmt.Errorf("delete messages of device %s: %w", id, err)
	}
	return nil
}

// prune forgets the messages kept since before cutoff.
func (s messages) prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.NewDelete().Model((*messageRow)(nil)).Where("created_at < ?", cutoff.UTC()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune messages: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
