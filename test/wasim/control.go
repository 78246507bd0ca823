package wasim

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"time"
)

// The control API plays the phone and the contacts over HTTP, for users
// driving the simulator from a terminal or from tests in other languages.
// JSON in and out; errors are {"error":{"code":"...","message":"..."}}.

func (s *Server) registerControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /control/info", s.ctlInfo)
	mux.HandleFunc("GET /control/stats", s.ctlStats)
	mux.HandleFunc("POST /control/scan", s.ctlScan)
	mux.HandleFunc("POST /control/pair-code", s.ctlPairCode)
	mux.HandleFunc("POST /control/messages", s.ctlSendMessage)
	mux.HandleFunc("GET /control/messages", s.ctlSent)
	mux.HandleFunc("POST /control/receipts", s.ctlReceipt)
	mux.HandleFunc("GET /control/activity", s.ctlActivity)
	mux.HandleFunc("GET /control/media/{id}", s.ctlMedia)
	mux.HandleFunc("GET /control/accounts/{phone}", s.ctlAccount)
	mux.HandleFunc("POST /control/accounts/{phone}/{action}", s.ctlAccountAction)
	mux.HandleFunc("/control/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such control endpoint: " + r.Method + " " + r.URL.Path})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	e := asError(err)
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

const (
	maxControlBody = 1 << 20
	// maxMessageBody fits an attachment of maxMediaBytes in base64.
	maxMessageBody = maxMediaBytes/3*4 + maxControlBody
)

// readJSON decodes a request body of at most maxControlBody bytes
// strictly; an empty body decodes to the zero value when allowEmpty.
func readJSON(r *http.Request, v any, allowEmpty bool) error {
	return readJSONLimit(r, v, allowEmpty, maxControlBody)
}

func readJSONLimit(r *http.Request, v any, allowEmpty bool, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if allowEmpty && errors.Is(err, io.EOF) {
			return nil
		}
		if errors.As(err, new(*http.MaxBytesError)) {
			return tooLarge("request body exceeds %d bytes", limit)
		}
		return badRequest("invalid_json", "request body: %v", err)
	}
	if dec.More() {
		return badRequest("invalid_json", "request body has trailing data")
	}
	return nil
}

func (s *Server) ctlInfo(w http.ResponseWriter, r *http.Request) {
	info := s.Info()
	// Mounted on someone else's server (Handler without Listen), the
	// address the caller reached us at is the one to report.
	if info.ServerURL == "" {
		info.ServerURL = "ws://" + r.Host + "/ws/chat"
	}
	writeJSON(w, http.StatusOK, info)
}

// ctlStats returns Stats; ?gc=1 runs a garbage collection first so that
// the memory figures are comparable between calls.
func (s *Server) ctlStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
	}
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) ctlScan(w http.ResponseWriter, r *http.Request) {
	var req ScanRequest
	if err := readJSON(r, &req, false); err != nil {
		writeError(w, err)
		return
	}
	dev, err := s.Scan(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dev)
}

func (s *Server) ctlPairCode(w http.ResponseWriter, r *http.Request) {
	var req PairCodeRequest
	if err := readJSON(r, &req, false); err != nil {
		writeError(w, err)
		return
	}
	dev, err := s.PairCode(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dev)
}

func (s *Server) ctlSendMessage(w http.ResponseWriter, r *http.Request) {
	var req IncomingMessage
	if err := readJSONLimit(r, &req, false, maxMessageBody); err != nil {
		writeError(w, err)
		return
	}
	res, err := s.SendMessage(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) ctlSent(w http.ResponseWriter, r *http.Request) {
	ctlAccountLog(w, r, "messages", s.Sent)
}

// ctlAccountLog answers GET …?from=PHONE with one of the account's logs, under key.
func ctlAccountLog[T any](w http.ResponseWriter, r *http.Request, key string, read func(phone string) ([]T, error)) {
	from := r.URL.Query().Get("from")
	if from == "" {
		writeError(w, badRequest("invalid_phone", "query parameter from is required"))
		return
	}
	entries, err := read(from)
	if err != nil {
		writeError(w, err)
		return
	}
	if entries == nil {
		entries = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{key: entries})
}

// ctlMedia returns the decrypted attachment of a message a linked device
// sent, with its mimetype, and its file name for documents.
func (s *Server) ctlMedia(w http.ResponseWriter, r *http.Request) {
	f, err := s.Media(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	ct := f.Mimetype
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	if f.FileName != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}))
	}
	_, _ = w.Write(f.Data)
}

func (s *Server) ctlAccount(w http.ResponseWriter, r *http.Request) {
	a, err := s.Account(r.PathValue("phone"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// banRequest is the optional body of POST /control/accounts/{phone}/ban.
type banRequest struct {
	Code          int `json:"code"`
	ExpireSeconds int `json:"expireSeconds"`
}

func (s *Server) ctlAccountAction(w http.ResponseWriter, r *http.Request) {
	phone := r.PathValue("phone")
	var (
		n   int
		err error
	)
	switch r.PathValue("action") {
	case "unlink":
		n, err = s.Unlink(phone)
	case "kick":
		n, err = s.Kick(phone)
	case "drop":
		n, err = s.Drop(phone)
	case "unban":
		err = s.Unban(phone)
	case "ban":
		var req banRequest
		if err = readJSON(r, &req, true); err == nil {
			if req.Code < 0 || req.ExpireSeconds < 0 {
				err = badRequest("invalid_ban", "code and expireSeconds must not be negative")
			} else {
				n, err = s.Ban(phone, BanOptions{Code: req.Code, Expire: time.Duration(req.ExpireSeconds) * time.Second})
			}
		}
	default:
		err = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "unknown account action " + r.PathValue("action")}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"affected": n})
}
