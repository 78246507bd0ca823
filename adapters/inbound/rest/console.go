package rest

import (
	"embed"
	"path"
	"regexp"

	"github.com/gofiber/fiber/v2"
)

// The web console, in the binary like /docs: a page that links devices, shows their
// events and sends a test message through the public REST API and Socket.io with the
// user's key, so it can do nothing a client cannot. Plain HTML, CSS and JS modules, no
// build; socket.io.esm.min.js is copied from npm by `make console-assets`.
//
//go:embed console/index.html console/console.js console/console.css console/socket.io.esm.min.js
var consoleFS embed.FS

// consoleAssets are the files the page loads, by name under /console/, with their types.
var consoleAssets = map[string]string{
	"console.js":           "text/javascript; charset=utf-8",
	"console.css":          "text/css; charset=utf-8",
	"socket.io.esm.min.js": "text/javascript; charset=utf-8",
}

// consolePolicy is docsPolicy for the console: its own scripts and styles only, QR
// images from blob: URLs (fetched with the key header, which an <img> cannot send), and
// connections to this origin. CSP Level 3 lets 'self' match ws: and wss: on the same
// host; older browsers need the host spelled out, which consoleHeaders adds.
const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; connect-src 'self'"

// plainHost is a Host header safe to write into a policy: a name or address and a port.
var plainHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

func (a *API) routeConsole(f *fiber.App) {
	// The front door: a user who opens the printed address lands on the console.
	f.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/console", fiber.StatusFound) })
	f.Get("/console", a.consolePage)
	f.Get("/console/:asset", a.consoleAsset)
}

func (a *API) consolePage(c *fiber.Ctx) error {
	consoleHeaders(c)
	return sendEmbedded(c, consoleFS, "console/index.html", fiber.MIMETextHTMLCharsetUTF8)
}

func (a *API) consoleAsset(c *fiber.Ctx) error {
	name := c.Params("asset")
	typ, ok := consoleAssets[name]
	if !ok {
		return fiber.ErrNotFound
	}
	consoleHeaders(c)
	return sendEmbedded(c, consoleFS, path.Join("console", name), typ)
}

// consoleHeaders keeps the console out of frames (clickjacking), its address out of
// Referer headers, and everything but its own files out of the page.
func consoleHeaders(c *fiber.Ctx) {
	policy := consolePolicy
	if host := c.Get(fiber.HeaderHost); plainHost.MatchString(host) {
		policy += " ws://" + host + " wss://" + host
	}
	c.Set(fiber.HeaderContentSecurityPolicy, policy)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// A new binary may bring new files: the browser asks again rather than run old ones.
	c.Set(fiber.HeaderCacheControl, "no-cache")
}
