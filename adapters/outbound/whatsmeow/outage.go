package whatsmeow

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/store"
)

// patientBuffer makes whatsmeow wait out a database outage while it decrypts a message,
// instead of failing: whatsmeow acknowledges a message it could not decrypt (and asks
// the sender to send it again, which needs the database too), so a decryption failed
// for want of a database would lose the message. Waiting holds this device's stream, so
// WhatsApp keeps what it has not delivered until the database is back. When the session
// ends meanwhile, the error wraps context.Canceled: whatsmeow then returns without
// acknowledging, and WhatsApp delivers the message again at the next login.
type patientBuffer struct {
	store.EventBuffer
	ended <-chan struct{}                 // closed when the session ends
	ping  func(ctx context.Context) error // whether the database answers
}

// bePatient puts a patientBuffer before the session's store. Pairing replaces every store
// of the device (whatsmeow's Container.PutDevice), so it is done again on PairSuccess,
// before the connection that logs in, which is the first to receive messages.
func (s *session) bePatient() {
	st := s.cli.Store
	if _, ok := st.EventBuffer.(patientBuffer); !ok {
		st.EventBuffer = patientBuffer{EventBuffer: st.EventBuffer, ended: s.ctx.Done(), ping: s.c.ping}
	}
}

// outageRetry is how often a waiting decryption checks whether the database is back.
const outageRetry = time.Second

func (b patientBuffer) GetBufferedEvent(ctx context.Context, hash [32]byte) (*store.BufferedEvent, error) {
	for {
		ev, err := b.EventBuffer.GetBufferedEvent(ctx, hash)
		if err == nil || !b.outage(ctx) {
			return ev, err
		}
		if err := b.wait(ctx, err); err != nil {
			return nil, err
		}
	}
}

func (b patientBuffer) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	for {
		err := b.EventBuffer.DoDecryptionTxn(ctx, fn)
		if err == nil || !b.outage(ctx) {
			return err // a failure of the message itself, not of the database
		}
		if err := b.wait(ctx, err); err != nil {
			return err
		}
	}
}

// outage reports whether the database does not answer.
func (b patientBuffer) outage(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, outageRetry)
	defer cancel()
	return b.ping(pctx) != nil
}

// wait waits until the database answers again, or fails with context.Canceled when the
// session ends first.
func (b patientBuffer) wait(ctx context.Context, cause error) error {
	for {
		select {
		case <-b.ended:
			return fmt.Errorf("%w: the session ended during a database outage: %w", context.Canceled, cause)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ctx.Err(), cause)
		case <-time.After(outageRetry):
		}
		if !b.outage(ctx) {
			return nil
		}
	}
}
