package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain/device"
)

// Events is the event log.
type Events struct {
	db *bun.DB
}

var _ device.EventLog = (*Events)(nil)

// Store is the device repository and the message store, which append to the event log
// through one journal, and the log.
type Store struct {
	Devices  *Devices
	Messages *Messages
	Events   *Events
}

func NewStore(db *bun.DB) Store {
	j := newJournal(db)
	return Store{Devices: &Devices{db: db, journal: j}, Messages: &Messages{db: db, journal: j, now: time.Now}, Events: &Events{db: db}}
}

type eventRow struct {
	bun.BaseModel `bun:"table:events"`

	ID        int64     `bun:"id,pk"`
	DeviceID  string    `bun:"device_id,notnull"`
	Name      string    `bun:"name,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	Payload   string    `bun:"payload,notnull"`
}

// appendEvents numbers events and inserts them, inside tx. Taking the ids updates
// event_head's one row, which PostgreSQL keeps locked until tx ends: appending
// transactions commit one after the other, in the order of their ids (see the
// migration), and a transaction that rolls back gives its ids back.
func appendEvents(ctx context.Context, tx bun.Tx, events []device.Event) error {
	if len(events) == 0 {
		return nil
	}
	var last int64
	err := tx.NewRaw("UPDATE event_head SET last_id = last_id + ? RETURNING last_id", len(events)).Scan(ctx, &last)
	if err != nil {
		return fmt.Errorf("number events: %w", err)
	}
	rows := make([]eventRow, len(events))
	for i, e := range events {
		r, err := device.NewRecord(e, device.EventID(last-int64(len(events)-1-i)))
		if err != nil {
			return err
		}
		rows[i] = eventRow{ID: int64(r.ID), DeviceID: r.DeviceID.String(), Name: r.Name, CreatedAt: r.At.UTC(), Payload: string(r.Payload)}
	}
	if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	return nil
}

func (l *Events) Read(ctx context.Context, q device.LogQuery) ([]device.Record, error) {
	var rows []eventRow
	s := l.db.NewSelect().Model(&rows).Where("id > ?", int64(q.After)).Order("id").Limit(int64(q.Limit))
	if q.Devices != nil {
		if len(q.Devices) == 0 {
			return nil, nil // a key that sees no device
		}
		s = s.Where("device_id IN (?)", bun.List(idStrings(q.Devices)))
	}
	if err := s.Scan(ctx); err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out := make([]device.Record, len(rows))
	for i, r := range rows {
		out[i] = device.Record{ID: device.EventID(r.ID), DeviceID: device.ID(r.DeviceID), Name: r.Name, At: r.CreatedAt.UTC(), Payload: []byte(r.Payload)}
	}
	return out, nil
}

func (l *Events) Last(ctx context.Context) (device.EventID, error) {
	var last int64
	if err := l.db.NewRaw("SELECT last_id FROM event_head").Scan(ctx, &last); err != nil {
		return 0, fmt.Errorf("read the end of the event log: %w", err)
	}
	return device.EventID(last), nil
}

func (l *Events) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	oldest := l.db.NewSelect().Model((*eventRow)(nil)).Column("id").Where("created_at < ?", before.UTC()).Order("id").Limit(int64(limit))
	res, err := l.db.NewDelete().Model((*eventRow)(nil)).Where("id IN (?)", oldest).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
