package wasim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

// httpBase is the simulator's HTTP address.
func httpBase(srv *wasim.Server) string {
	return strings.Replace(strings.TrimSuffix(srv.URL(), "/ws/chat"), "ws://", "http://", 1)
}

// rawRequest calls the simulator over HTTP and returns the status, headers
// and body, whatever the content type.
func rawRequest(t *testing.T, method, u string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// Media through the control API: a contact sends an image and a document
// as base64, the client downloads them; the client sends media and other
// kinds, GET /control/messages describes them and GET /control/media
// returns the files.
func TestControlMedia(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550036001", "15550036999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()

	image := randomData(t, 20_000)
	status, out := ctl(t, srv, "POST", "/control/messages", mustJSON(map[string]any{
		"from": contact, "to": account, "type": "image", "data": base64.StdEncoding.EncodeToString(image),
		"mimetype": "image/png", "caption": "over HTTP", "pushName": "Ivan",
	}))
	if status != 200 || out["devices"] != float64(1) {
		t.Fatalf("send image = %d %v", status, out)
	}
	evt := waitFor[*events.Message](t, tc.recorder)
	if evt.Info.ID != out["id"] || evt.Message.GetImageMessage().GetCaption() != "over HTTP" || evt.Info.PushName != "Ivan" {
		t.Fatalf("image message = %+v %v", evt.Info, evt.Message)
	}
	if got, err := tc.cli.Download(ctx, evt.Message.GetImageMessage()); err != nil || !bytes.Equal(got, image) {
		t.Fatalf("Download = %d bytes, %v", len(got), err)
	}

	status, out = ctl(t, srv, "POST", "/control/messages", mustJSON(map[string]any{
		"from": contact, "to": account, "type": "location", "location": map[string]any{"latitude": 48.8584, "longitude": 2.2945, "name": "Eiffel Tower"},
		"quotedId": evt.Info.ID,
	}))
	if status != 200 {
		t.Fatalf("send location = %d %v", status, out)
	}
	evt = waitFor[*events.Message](t, tc.recorder)
	if l := evt.Message.GetLocationMessage(); l.GetDegreesLatitude() != 48.8584 || l.GetName() != "Eiffel Tower" || l.GetContextInfo().GetStanzaID() == "" {
		t.Fatalf("location = %v", evt.Message)
	}

	// The client sends a document, a location and a reaction.
	doc := []byte("%PDF-1.4 not really a PDF\n")
	up, err := tc.cli.Upload(ctx, doc, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatal(err)
	}
	to := types.NewJID(contact, types.DefaultUserServer)
	docResp, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
		DocumentMessage: &waE2E.DocumentMessage{
			FileName: proto.String("invoice 7.pdf"), Caption: proto.String("your invoice"), Mimetype: proto.String("application/pdf"),
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String(evt.Info.ID)},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	reactResp, err := tc.cli.SendMessage(ctx, to, tc.cli.BuildReaction(to, to, evt.Info.ID, "😂"))
	if err != nil {
		t.Fatal(err)
	}

	status, out = ctl(t, srv, "GET", "/control/messages?from="+account, "")
	msgs, _ := out["messages"].([]any)
	if status != 200 || len(msgs) != 2 {
		t.Fatalf("messages = %d %v", status, out)
	}
	m := msgs[0].(map[string]any)
	docSum := sha256.Sum256(doc)
	want := map[string]any{
		"id": docResp.ID, "type": "document", "fileName": "invoice 7.pdf", "caption": "your invoice", "mimetype": "application/pdf",
		"fileLength": float64(len(doc)), "sha256": sha256Hex(doc), "quotedId": evt.Info.ID, "to": contact,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("document %s = %v, want %v (%v)", k, m[k], v, m)
		}
	}
	if _, ok := m["mediaError"]; ok {
		t.Errorf("document has a media error: %v", m)
	}
	m = msgs[1].(map[string]any)
	if m["id"] != reactResp.ID || m["type"] != "reaction" || m["targetId"] != evt.Info.ID || m["emoji"] != "😂" {
		t.Errorf("reaction = %v", m)
	}

	status, hdr, body := rawRequest(t, "GET", httpBase(srv)+"/control/media/"+docResp.ID, nil)
	if status != 200 || !bytes.Equal(body, doc) || hdr.Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET /control/media = %d %v %q", status, hdr, body)
	}
	if _, params, err := mime.ParseMediaType(hdr.Get("Content-Disposition")); err != nil || params["filename"] != "invoice 7.pdf" {
		t.Fatalf("Content-Disposition = %q (%v)", hdr.Get("Content-Disposition"), err)
	}
	if sha256.Sum256(body) != docSum {
		t.Fatal("served file differs")
	}

	errorCases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/control/media/" + reactResp.ID, "", 404, "unknown_media"},
		{"POST", "/control/messages", `{"from":"15550036999","to":"15550036001","type":"gif","data":"AAAA"}`, 400, "invalid_message"},
		{"POST", "/control/messages", `{"from":"15550036999","to":"15550036001","type":"image","data":"not base64!"}`, 400, "invalid_json"},
		{"POST", "/control/messages", `{"from":"15550036999","to":"15550036001","type":"image"}`, 400, "invalid_message"},
		{"POST", "/control/messages", `{"from":"15550036999","to":"15550036001","text":"x","data":"AAAA"}`, 400, "invalid_message"},
		{"POST", "/control/messages", `{"from":"15550036999","to":"15550036001","type":"reaction"}`, 400, "invalid_message"},
	}
	for _, c := range errorCases {
		status, out := ctl(t, srv, c.method, c.path, c.body)
		if status != c.status || errCode(out) != c.code {
			t.Errorf("%s %s %s = %d %v, want %d %s", c.method, c.path, c.body, status, out, c.status, c.code)
		}
	}
}

// The media host's upload and download endpoints, without a client.
func TestMediaHostHTTP(t *testing.T) {
	srv := startServer(t)
	base := httpBase(srv)
	blob := randomData(t, 4096)
	sum := sha256.Sum256(blob)
	token := base64.URLEncoding.EncodeToString(sum[:])
	upload := func(mmsType, tok, auth string, body []byte) (int, []byte) {
		q := url.Values{"auth": {auth}, "token": {tok}}
		status, _, raw := rawRequest(t, "POST", base+"/mms/"+mmsType+"/"+tok+"?"+q.Encode(), body)
		return status, raw
	}

	if status, raw := upload("image", token, "wrong", blob); status != 401 {
		t.Fatalf("upload with wrong auth = %d %s", status, raw)
	}
	if status, raw := upload("hologram", token, srv.MediaAuth(), blob); status != 404 {
		t.Fatalf("upload of unknown type = %d %s", status, raw)
	}
	if status, raw := upload("image", token, srv.MediaAuth(), append(blob, 0)); status != 400 || !bytes.Contains(raw, []byte("hash_mismatch")) {
		t.Fatalf("upload with wrong hash = %d %s", status, raw)
	}
	status, raw := upload("image", token, srv.MediaAuth(), blob)
	if status != 200 {
		t.Fatalf("upload = %d %s", status, raw)
	}
	var resp whatsmeow.UploadResponse
	if err := json.Unmarshal(raw, &resp); err != nil || !strings.HasPrefix(resp.DirectPath, "/v/t62.7118-24/") || !strings.Contains(resp.DirectPath, "?") ||
		resp.URL != "https://"+wasim.MediaHost+resp.DirectPath+"&mms3=true" {
		t.Fatalf("upload response %s (%v)", raw, err)
	}

	// The URL whatsmeow's DownloadMediaWithPath builds.
	dl := base + resp.DirectPath + "&hash=" + token + "&mms-type=image&__wa-mms="
	if status, hdr, got := rawRequest(t, "GET", dl, nil); status != 200 || !bytes.Equal(got, blob) || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("download = %d, %d bytes", status, len(got))
	}
	other := sha256.Sum256([]byte("other"))
	if status, _, _ := rawRequest(t, "GET", base+resp.DirectPath+"&hash="+base64.URLEncoding.EncodeToString(other[:]), nil); status != 404 {
		t.Fatalf("download with the wrong hash = %d", status)
	}
	if status, _, _ := rawRequest(t, "GET", base+"/v/t62.7118-24/"+strings.Repeat("ab", 32)+".enc?ccb=11-4", nil); status != 404 {
		t.Fatalf("download of unknown media = %d", status)
	}
}
