package rest

import (
	"embed"
	"path"

	"github.com/gofiber/fiber/v2"
)

// The API's description and the page that renders it, in the binary: users run behind
// firewalls, so nothing comes from a CDN. docs/openapi.json is maintained by hand
// (TestDescriptionCoversEveryRoute keeps it complete, the e2e tests keep it true); the
// Swagger UI files are copied from npm by `make docs-assets`.
//
//go:embed docs/openapi.json docs/index.html docs/docs.js docs/docs.css docs/swagger-ui-bundle.js docs/swagger-ui.css
var docsFS embed.FS

// docsPolicy lets the docs page run its own scripts and styles and nothing else: no
// inline script, no other origin. Swagger UI sets styles from script (allowed: CSP
// governs style elements and attributes in markup, not the CSSOM) and shows its
// icons as data: images.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAssets are the files the page loads, by name under /docs/, with their types.
var docsAssets = map[string]string{
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
	"docs.js":              "text/javascript; charset=utf-8",
	"docs.css":             "text/css; charset=utf-8",
}

func (a *API) routeDocs(f *fiber.App) {
	f.Get("/openapi.json", a.openAPI)
	f.Get("/docs", a.docsPage)
	f.Get("/docs/socketio.md", a.socketIOContract)
	f.Get("/docs/:asset", a.docsAsset)
}

func (a *API) openAPI(c *fiber.Ctx) error {
	return sendDoc(c, "openapi.json", fiber.MIMEApplicationJSONCharsetUTF8)
}

func (a *API) docsPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, docsPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return sendDoc(c, "index.html", fiber.MIMETextHTMLCharsetUTF8)
}

// socketIOContract is docs/socketio.md of the repository, as plain text: browsers show
// text/plain, and may offer to download text/markdown.
func (a *API) socketIOContract(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(a.opts.SocketIOContract)
}

func (a *API) docsAsset(c *fiber.Ctx) error {
	name := c.Params("asset")
	typ, ok := docsAssets[name]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return sendDoc(c, name, typ)
}

func sendDoc(c *fiber.Ctx, name, contentType string) error {
	return sendEmbedded(c, docsFS, path.Join("docs", name), contentType)
}

// sendEmbedded answers a file of the binary; only names embedded reach here.
func sendEmbedded(c *fiber.Ctx, files embed.FS, name, contentType string) error {
	b, err := files.ReadFile(name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentType)
	return c.Send(b)
}
