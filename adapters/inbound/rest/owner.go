package rest

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// forwardedHeader marks a request one instance carried to another: it is served where it
// arrives, never carried further.
const forwardedHeader = "X-Wagate-Forwarded"

// forwardTimeout bounds the wait for the owner's answer: a message with a large file
// takes a while.
const forwardTimeout = 2 * time.Minute

var forwarding = &http.Transport{ResponseHeaderTimeout: forwardTimeout, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}

// atOwner carries a request that needs the device's session (send, media, disconnect,
// log out, pairing code) to the instance that runs that session, streaming its body and
// its answer; the owner checks the key again. A key that does not see the device gets
// the local answer (not found), and so does a request already carried once.
func (a *API) atOwner(next func(http.ResponseWriter, *http.Request, *key.Access)) func(http.ResponseWriter, *http.Request, *key.Access) {
	return func(w http.ResponseWriter, r *http.Request, access *key.Access) {
		id, err := device.ParseID(r.PathValue("id"))
		if err != nil || access.Read(id) != nil || r.Header.Get(forwardedHeader) != "" {
			next(w, r, access)
			return
		}
		address, local, err := a.app.Commands.Ownership.Owner(r.Context(), id)
		switch {
		case err != nil:
			a.writeError(w, r, err)
		case local:
			next(w, r, access)
		default:
			a.forward(w, r, id, address)
		}
	}
}

func (a *API) forward(w http.ResponseWriter, r *http.Request, id device.ID, address string) {
	target, err := url.Parse(address)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		Transport: forwarding,
		// The owner answers with the request's id, which this instance has set already.
		ModifyResponse: func(res *http.Response) error { res.Header.Del(RequestIDHeader); return nil },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.WarnContext(r.Context(), "the instance running a session did not answer", "device", id, "instance", address, "err", err)
			a.writeError(w, r, domain.Errorf(domain.KindUnavailable, "the instance running the session of device %s did not answer", id))
		},
	}
	proxy.ServeHTTP(w, r)
}
