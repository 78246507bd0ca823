package rest

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/application"
)

// keyJSON is a key as the API lists it: never its secret.
type keyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Devices   []string   `json:"devices"` // empty: every device
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

func toKeyJSON(k application.Key) keyJSON {
	devices := k.Devices
	if devices == nil {
		devices = []string{}
	}
	return keyJSON{ID: k.ID, Name: k.Name, Role: k.Role, Devices: devices, Hint: k.Hint,
		CreatedAt: k.CreatedAt, ExpiresAt: optionalTime(k.ExpiresAt)}
}

type createKeyJSON struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Devices   []string   `json:"devices"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// createdKeyJSON is a new key with its secret, shown this once.
type createdKeyJSON struct {
	keyJSON
	Key string `json:"key"`
}

func (a *API) createKey(c *fiber.Ctx) error {
	var body createKeyJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	cmd := application.CreateKey{Name: body.Name, Role: body.Role, Devices: body.Devices}
	if body.ExpiresAt != nil {
		cmd.ExpiresAt = *body.ExpiresAt
	}
	k, err := a.app.Commands.CreateKey.Handle(c.UserContext(), cmd)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/keys/" + k.ID)
	return c.Status(fiber.StatusCreated).JSON(createdKeyJSON{keyJSON: toKeyJSON(k.Key), Key: k.Secret})
}

func (a *API) listKeys(c *fiber.Ctx) error {
	keys, err := a.app.Queries.ListKeys.Handle(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, toKeyJSON(k))
	}
	return c.JSON(fiber.Map{"keys": out})
}

func (a *API) revokeKey(c *fiber.Ctx) error {
	if err := a.app.Commands.RevokeKey.Handle(c.UserContext(), application.RevokeKey{ID: c.Params("id")}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
