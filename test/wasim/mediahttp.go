package wasim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
)

// The simulator is also the media host. whatsmeow asks for media hosts with
// a media_conn IQ and then talks HTTPS to the host it is given, through the
// client's media http.Client (SetMediaHTTPClient):
//
//	POST https://HOST/mms/<mms type>/<token>?auth=…&token=…    upload; token = base64url(sha256(blob))
//	GET  https://HOST<direct path>&hash=…&mms-type=…&__wa-mms=  download
//
// The host handed out is WhatsApp's own name, so that media requests look
// like the real ones; the client's transport must send them here, as it
// does for the websocket (NewRedirectTransport sends every request to the
// simulator).

// MediaHost is the host name the media_conn IQ returns.
const MediaHost = "mmg.whatsapp.net"

func (s *Server) registerMedia(mux *http.ServeMux) {
	mux.HandleFunc("POST /mms/{type}/{token}", s.serveMediaUpload)
	mux.HandleFunc("GET /v/", s.serveMediaDownload)
}

// handleMediaConn answers <iq xmlns="w:m"><media_conn/></iq>. whatsmeow
// caches the answer for ttl seconds.
func (s *Server) handleMediaConn(c *conn, node *waBinary.Node) {
	s.mu.Lock()
	loggedIn := c.device != nil
	s.mu.Unlock()
	if !loggedIn {
		_ = c.send(iqError(node, 401, "not-authorized"))
		return
	}
	_ = c.send(iqResult(node, waBinary.Node{Tag: "media_conn", Attrs: waBinary.Attrs{
		"auth":        s.media.auth,
		"ttl":         "300",
		"auth_ttl":    "21600",
		"max_buckets": "12",
	}, Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": MediaHost}}}}))
}

// uploadResponse is what the media host answers to an upload; whatsmeow
// copies it into UploadResponse.
type uploadResponse struct {
	URL        string `json:"url"`
	DirectPath string `json:"direct_path"`
	Handle     string `json:"handle"`
	ObjectID   string `json:"object_id"`
}

// uploadTypes are the mms types whatsmeow uploads (mediaTypeToMMSType),
// plus the ones WhatsApp clients use for voice notes, GIFs and stickers.
var uploadTypes = map[string]bool{
	"image": true, "video": true, "audio": true, "document": true, "ptt": true, "gif": true, "sticker": true,
	"md-msg-hist": true, "md-app-state": true, "sticker-pack": true, "thumbnail-link": true,
}

func (s *Server) serveMediaUpload(w http.ResponseWriter, r *http.Request) {
	mmsType, token := r.PathValue("type"), r.PathValue("token")
	q := r.URL.Query()
	if q.Get("auth") != s.media.auth {
		writeError(w, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "auth is not the one media_conn gave"})
		return
	}
	if !uploadTypes[mmsType] {
		writeError(w, notFound("unknown_media_type", "unknown media type %q", mmsType))
		return
	}
	want, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(want) != sha256.Size || q.Get("token") != token {
		writeError(w, badRequest("invalid_token", "token must be base64url(sha256(body)) in the path and the query"))
		return
	}
	blob, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMediaBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, tooLarge("upload exceeds %d bytes", maxMediaBytes))
		} else {
			writeError(w, badRequest("invalid_body", "read upload: %v", err))
		}
		return
	}
	if sum := sha256.Sum256(blob); !bytes.Equal(sum[:], want) {
		writeError(w, badRequest("hash_mismatch", "sha256 of the upload does not match its token"))
		return
	}
	dp := directPath(mmsType, s.media.putBlob(blob))
	writeJSON(w, http.StatusOK, uploadResponse{
		URL:        "https://" + MediaHost + dp + "&mms3=true",
		DirectPath: dp,
		Handle:     base64.RawURLEncoding.EncodeToString(randomBytes(16)),
		ObjectID:   strconv.FormatUint(uint64(randomUint32()), 10),
	})
}

// directPath builds a CDN path like WhatsApp's for a stored blob. The file
// name is the blob's key; the query imitates the signature (oh), expiry (oe)
// and session parameters real paths carry, which whatsmeow appends to with
// "&hash=…", so there must be a query.
func directPath(mmsType, key string) string {
	prefix := "/v/t62.7114-24/"
	if k, ok := mediaKinds[mmsType]; ok {
		prefix = k.pathPrefix
	}
	expiry := strconv.FormatInt(time.Now().Add(30*24*time.Hour).Unix(), 16)
	return prefix + key + ".enc?ccb=11-4&oh=01_" + hex.EncodeToString(randomBytes(16)) + "&oe=" + strings.ToUpper(expiry) + "&_nc_sid=5e03e0"
}

// blobKeyFromPath returns the blob key in a direct path or download URL
// path: the file name without ".enc".
func blobKeyFromPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	key, _ := strings.CutSuffix(path.Base(p), ".enc")
	return key
}

func (s *Server) serveMediaDownload(w http.ResponseWriter, r *http.Request) {
	key := blobKeyFromPath(r.URL.Path)
	blob, ok := s.media.blob(key)
	if !ok {
		writeError(w, notFound("unknown_media", "no media at %s", r.URL.Path))
		return
	}
	// whatsmeow names the file it expects by the hash of its encrypted
	// content; a mismatch would be a client bug, so say so.
	if h := r.URL.Query().Get("hash"); h != "" {
		want, err := base64.URLEncoding.DecodeString(h)
		if err != nil || hex.EncodeToString(want) != key {
			writeError(w, notFound("hash_mismatch", "hash %q does not name the media at %s", h, r.URL.Path))
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
	_, _ = w.Write(blob)
}
