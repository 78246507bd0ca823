package whatsmeow

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
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

// Messages keeps messages; device.Messages is one. The adapter keeps the messages its
// devices send, and finds kept ones (received or sent) to quote, react to or download.
type Messages interface {
	Keep(ctx context.Context, id device.ID, m device.Stored) error
	Find(ctx context.Context, id device.ID, q device.MessageQuery) ([]device.Stored, error)
}

// keptMessage is a kept message as the adapter uses it.
type keptMessage struct {
	Chat    types.JID
	Sender  types.JID
	FromMe  bool
	Message *waE2E.Message
}

// kept reads and writes Messages in whatsmeow's terms.
type kept struct{ store Messages }

// encode is how a message is kept: without its thumbnails.
func encode(msg *waE2E.Message) ([]byte, error) {
	raw, err := proto.Marshal(msgconv.Trim(msg))
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return raw, nil
}

// put keeps a message the device sent.
func (k kept) put(ctx context.Context, id device.ID, e *events.Message) error {
	raw, err := encode(e.Message)
	if err != nil {
		return err
	}
	return k.store.Keep(ctx, id, device.Stored{Message: msgconv.Incoming(e), Raw: raw})
}

// find returns up to limit kept messages of the device with the id msgID, in chats (any
// when empty) from senders (any when empty), first kept first. When several senders used
// the id in one chat, the first is the original: a copy of an id can only follow the
// message it copies.
func (k kept) find(ctx context.Context, id device.ID, msgID string, chats, senders []types.JID, limit int) ([]keptMessage, error) {
	found, err := k.store.Find(ctx, id, device.MessageQuery{ID: msgID, Chats: jidStrings(chats), Senders: jidStrings(senders), Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]keptMessage, len(found))
	for i, f := range found {
		m := keptMessage{FromMe: f.Message.FromMe, Message: &waE2E.Message{}}
		if err := proto.Unmarshal(f.Raw, m.Message); err != nil {
			return nil, fmt.Errorf("load message %s: %w", msgID, err)
		}
		m.Chat, _ = types.ParseJID(f.Message.Chat)
		m.Sender, _ = types.ParseJID(f.Message.Sender.JID)
		out[i] = m
	}
	return out, nil
}

// first returns the first kept message with the id in one of chats, or nil.
func (k kept) first(ctx context.Context, id device.ID, msgID string, chats []types.JID) (*keptMessage, error) {
	found, err := k.find(ctx, id, msgID, chats, nil, 1)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

func jidStrings(js []types.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ToNonAD().String()
	}
	return out
}
