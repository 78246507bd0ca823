package application

import (
	"context"
	"log/slog"

	"github.com/wagate/wagate/domain/device"
)

// statusLog is the device repository that logs every change of a device's status once
// it is committed, with the status it left, why, and the instance that made it: read
// in order, the lines of one device explain its whole life. Every use case stores
// devices through it, so no change goes unlogged.
type statusLog struct {
	device.Repository
	instance string
	log      *slog.Logger
}

// statusChangedMsg is the message of the line logged for each change of status.
const statusChangedMsg = "device status changed"

func (r statusLog) Create(ctx context.Context, d *device.Device) error {
	if err := r.Repository.Create(ctx, d); err != nil {
		return err
	}
	r.changed(ctx, d.ID(), "", d.Status().String(), "created")
	return nil
}

func (r statusLog) Update(ctx context.Context, id device.ID, fn func(*device.Device) error) (*device.Device, error) {
	var changes []device.StateChanged
	d, err := r.Repository.Update(ctx, id, func(d *device.Device) error {
		changes = changes[:0] // fn may run again when the store retries its transaction
		if err := fn(d); err != nil {
			return err
		}
		for _, e := range d.Recorded() {
			if c, ok := e.(device.StateChanged); ok {
				changes = append(changes, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		r.changed(ctx, id, c.From.String(), c.Status.String(), c.Cause)
	}
	return d, nil
}

func (r statusLog) Delete(ctx context.Context, id device.ID, fn func(*device.Device) error) error {
	var from device.Status
	err := r.Repository.Delete(ctx, id, func(d *device.Device) error {
		from = d.Status()
		return fn(d)
	})
	if err != nil {
		return err
	}
	r.changed(ctx, id, from.String(), "deleted", string(device.ReasonDeleted))
	return nil
}

func (r statusLog) changed(ctx context.Context, id device.ID, from, to, reason string) {
	r.log.InfoContext(ctx, statusChangedMsg, "device", id.String(), "from", from, "to", to, "reason", reason, "instance", r.instance)
}
