package whatsmeow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/whatsmeow/msgconv"
	"github.com/wagate/wagate/domain/device"
)

// upgradeLockKey identifies whatsmeow's schema upgrade among PostgreSQL advisory locks.
const upgradeLockKey = 0x77616d656f77 // "wameow"

// openStore wraps db in a whatsmeow session store and brings its whatsmeow_* tables up
// to date. whatsmeow's upgrade takes no lock of its own, so it runs exclusively: gateways
// starting together upgrade one after the other.
func openStore(ctx context.Context, db *bun.DB, log waLog.Logger) (*sqlstore.Container, error) {
	dialect := "sqlite"
	if database.IsPostgres(db) {
		dialect = "postgres"
	}
	container := sqlstore.NewWithDB(db.DB, dialect, log)
	err := database.Exclusively(ctx, db, upgradeLockKey, func() error { return container.Upgrade(ctx) })
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

// messageRow is a message kept for replies, reactions and media downloads.
type messageRow struct {
	bun.BaseModel `bun:"table:whatsapp_messages"`

	DeviceID  string    `bun:"device_id,pk"`
	MessageID string    `bun:"message_id,pk"`
	Chat      string    `bun:"chat,notnull"`
	Sender    string    `bun:"sender,notnull"`
	FromMe    bool      `bun:"from_me,notnull"`
	Content   []byte    `bun:"content,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// keptMessage is a message found in the table.
type keptMessage struct {
	Chat    types.JID
	Sender  types.JID
	FromMe  bool
	Message *waE2E.Message
}

type messages struct{ db *bun.DB }

// put keeps msg (without its thumbnails) for the device; a message seen again replaces
// the earlier copy.
func (s messages) put(ctx context.Context, id device.ID, msgID string, chat, sender types.JID, fromMe bool, msg *waE2E.Message, at time.Time) error {
	content, err := proto.Marshal(msgconv.Trim(msg))
	if err != nil {
		return fmt.Errorf("marshal message %s: %w", msgID, err)
	}
	row := &messageRow{
		DeviceID: id.String(), MessageID: msgID, Chat: chat.ToNonAD().String(), Sender: sender.ToNonAD().String(),
		FromMe: fromMe, Content: content, CreatedAt: at.UTC(),
	}
	_, err = s.db.NewInsert().Model(row).
		On("CONFLICT (device_id, message_id) DO UPDATE").
		Set("chat = EXCLUDED.chat, sender = EXCLUDED.sender, from_me = EXCLUDED.from_me, content = EXCLUDED.content, created_at = EXCLUDED.created_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store message %s: %w", msgID, err)
	}
	return nil
}

// get returns the kept message, or nil when there is none.
func (s messages) get(ctx context.Context, id device.ID, msgID string) (*keptMessage, error) {
	var row messageRow
	err := s.db.NewSelect().Model(&row).Where("device_id = ? AND message_id = ?", id.String(), msgID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("load message %s: %w", msgID, err)
	}
	k := &keptMessage{FromMe: row.FromMe, Message: &waE2E.Message{}}
	if err := proto.Unmarshal(row.Content, k.Message); err != nil {
		return nil, fmt.Errorf("load message %s: %w", msgID, err)
	}
	k.Chat, _ = types.ParseJID(row.Chat)
	k.Sender, _ = types.ParseJID(row.Sender)
	return k, nil
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
