// Renders /openapi.json with Swagger UI. A file of its own, not an inline script, so that
// the page's Content-Security-Policy can forbid inline scripts.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // No call home: the page works behind a firewall.
  validatorUrl: null,
});
