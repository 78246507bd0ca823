package key

import (
	"slices"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Access is what an authenticated caller may do. Every transport asks it before it acts
// on a device or shows one, so that a key's scope holds wherever a device is named.
type Access struct {
	KeyID     ID // "" for the admin key from the configuration
	Role      Role
	ExpiresAt time.Time              // zero: never
	devices   map[device.ID]struct{} // nil: every device
}

// Configured is the access of the key from the configuration: admin, every device.
func Configured() Access { return Access{Role: RoleAdmin} }

// Limited builds the access of a role on some devices (nil: every device).
func Limited(role Role, devices ...device.ID) Access {
	return Rehydrate(Snapshot{Role: role, Devices: devices}).Access()
}

// AllDevices reports whether the caller may see every device, present and future.
func (a Access) AllDevices() bool { return a.devices == nil }

// Devices lists the devices the caller is limited to, sorted; nil when it may see all.
func (a Access) Devices() []device.ID {
	if a.devices == nil {
		return nil
	}
	ids := make([]device.ID, 0, len(a.devices))
	for id := range a.devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Sees reports whether the device is in the caller's scope.
func (a Access) Sees(id device.ID) bool {
	if a.devices == nil {
		return true
	}
	_, ok := a.devices[id]
	return ok
}

// Read checks that the caller may read the device and listen to it. A device outside the
// scope is reported as not found, so that a key cannot learn which other devices exist.
func (a Access) Read(id device.ID) error {
	if !a.Sees(id) {
		return device.NotFound(id)
	}
	return nil
}

// Write checks that the caller may change the device or send from it.
func (a Access) Write(id device.ID) error {
	if err := a.Read(id); err != nil {
		return err
	}
	if a.Role == RoleReadOnly {
		return ErrReadOnly
	}
	return nil
}

// CreateDevice checks that the caller may create devices: a key limited to some devices
// may not, since the new device would be outside its own scope.
func (a Access) CreateDevice() error {
	if a.Role == RoleReadOnly {
		return ErrReadOnly
	}
	if !a.AllDevices() {
		return domain.Errorf(domain.KindForbidden, "this key is limited to some devices and cannot create new ones")
	}
	return nil
}

// Admin checks that the caller may manage keys.
func (a Access) Admin() error {
	if a.Role != RoleAdmin {
		return domain.Errorf(domain.KindForbidden, "only admin keys may manage keys")
	}
	return nil
}

// The errors callers see. The unauthorized ones carry the gateway contract's exact strings.
var (
	ErrMissing       error = &domain.Error{Kind: domain.KindUnauthorized, Message: "API key is required"}
	ErrInvalid       error = &domain.Error{Kind: domain.KindUnauthorized, Message: "Invalid API key"}
	ErrNotConfigured error = &domain.Error{Kind: domain.KindUnavailable, Message: "Server configuration error"}
	ErrReadOnly      error = &domain.Error{Kind: domain.KindForbidden, Message: "this key is read-only"}
)
