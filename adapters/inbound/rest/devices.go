package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// deviceJSON is a device as the API shows it. Optional values are null until known.
type deviceJSON struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	Status               string     `json:"status"`
	PhoneNumber          *string    `json:"phoneNumber"`
	JID                  *string    `json:"jid"`
	PushName             *string    `json:"pushName"`
	BusinessName         *string    `json:"businessName"`
	LastDisconnectReason *string    `json:"lastDisconnectReason"`
	BanExpiresAt         *time.Time `json:"banExpiresAt"`
	CreatedAt            time.Time  `json:"createdAt"`
	UpdatedAt            time.Time  `json:"updatedAt"`
	LastConnectedAt      *time.Time `json:"lastConnectedAt"`
}

func toJSON(d application.Device) deviceJSON {
	return deviceJSON{
		ID: d.ID, Name: d.Name, Status: d.Status,
		PhoneNumber: optional(d.PhoneNumber), JID: optional(d.JID), PushName: optional(d.PushName),
		BusinessName: optional(d.BusinessName), LastDisconnectReason: optional(d.LastDisconnectReason),
		BanExpiresAt: optionalTime(d.BanExpiresAt),
		CreatedAt:    d.CreatedAt, UpdatedAt: d.UpdatedAt, LastConnectedAt: optionalTime(d.LastConnectedAt),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

type deviceListJSON struct {
	Devices []deviceJSON `json:"devices"`
	Total   int          `json:"total"`
	Limit   int          `json:"limit"`
	Offset  int          `json:"offset"`
}

type nameJSON struct {
	Name string `json:"name"`
}

// scope checks the caller's key against the device in the path, once for every device
// route. Handlers take the device id from here (deviceOf), never from the query or body.
func (a *API) scope(c *fiber.Ctx) error {
	id, err := scopedDevice(accessOf(c), c.Method(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Locals(deviceLocal, id)
	return c.Next()
}

// scopedDevice parses the device id of a path and checks it against the caller's key,
// for the fiber routes and the net/http ones alike: reading (GET, HEAD) needs the device
// in the key's scope, anything else a key that may write to it.
func scopedDevice(access key.Access, method, raw string) (device.ID, error) {
	id, err := device.ParseID(raw)
	if err != nil {
		return "", err
	}
	if method == http.MethodGet || method == http.MethodHead {
		return id, access.Read(id)
	}
	return id, access.Write(id)
}

const deviceLocal = "wagate.device"

// deviceOf is the device in the path, checked by scope.
func deviceOf(c *fiber.Ctx) string {
	id, _ := c.Locals(deviceLocal).(device.ID)
	return id.String()
}

func (a *API) createDevice(c *fiber.Ctx) error {
	if err := accessOf(c).CreateDevice(); err != nil {
		return err
	}
	var body nameJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	d, err := a.app.Commands.CreateDevice.Handle(c.UserContext(), application.CreateDevice{Name: body.Name})
	if err != nil {
		return err
	}
	c.Location("/api/v1/devices/" + d.ID)
	return c.Status(fiber.StatusCreated).JSON(toJSON(d))
}

func (a *API) listDevices(c *fiber.Ctx) error {
	q := application.ListDevices{Within: accessOf(c).Devices()}
	var err error
	if q.Limit, err = intParam(c, "limit"); err != nil {
		return err
	}
	if q.Offset, err = intParam(c, "offset"); err != nil {
		return err
	}
	if s := c.Query("status"); s != "" {
		q.Statuses = strings.Split(s, ",")
	}
	page, err := a.app.Queries.ListDevices.Handle(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := deviceListJSON{Devices: make([]deviceJSON, 0, len(page.Devices)), Total: page.Total, Limit: page.Limit, Offset: page.Offset}
	for _, d := range page.Devices {
		out.Devices = append(out.Devices, toJSON(d))
	}
	return c.JSON(out)
}

func intParam(c *fiber.Ctx, name string) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, domain.Errorf(domain.KindInvalid, "query parameter %s must be an integer", name)
	}
	return n, nil
}

func (a *API) getDevice(c *fiber.Ctx) error {
	d, err := a.app.Queries.GetDevice.Handle(c.UserContext(), application.GetDevice{ID: deviceOf(c)})
	return respond(c, fiber.StatusOK, d, err)
}

func (a *API) renameDevice(c *fiber.Ctx) error {
	var body nameJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	d, err := a.app.Commands.RenameDevice.Handle(c.UserContext(), application.RenameDevice{ID: deviceOf(c), Name: body.Name})
	return respond(c, fiber.StatusOK, d, err)
}

func (a *API) deleteDevice(c *fiber.Ctx) error {
	if err := a.app.Commands.DeleteDevice.Handle(c.UserContext(), application.DeleteDevice{ID: deviceOf(c)}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// connectDevice answers 202: the session is starting, and its progress (QR codes, ready)
// arrives as events.
func (a *API) connectDevice(c *fiber.Ctx) error {
	d, err := a.app.Commands.ConnectDevice.Handle(c.UserContext(), application.ConnectDevice{ID: deviceOf(c)})
	return respond(c, fiber.StatusAccepted, d, err)
}

func (a *API) disconnectDevice(c *fiber.Ctx) error {
	d, err := a.app.Commands.DisconnectDevice.Handle(c.UserContext(), application.DisconnectDevice{ID: deviceOf(c)})
	return respond(c, fiber.StatusOK, d, err)
}

func (a *API) logoutDevice(c *fiber.Ctx) error {
	d, err := a.app.Commands.LogoutDevice.Handle(c.UserContext(), application.LogoutDevice{ID: deviceOf(c)})
	return respond(c, fiber.StatusOK, d, err)
}

func respond(c *fiber.Ctx, status int, d application.Device, err error) error {
	if err != nil {
		return err
	}
	return c.Status(status).JSON(toJSON(d))
}
