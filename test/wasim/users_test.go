package wasim_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// The user queries a gateway is likely to make before sending work, and a
// send addressed to a LID.
func TestUserQueriesAndLIDSend(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550030001", "15550030999"
	tc := pairQR(t, srv, account)
	ctx := context.Background()

	on, err := tc.cli.IsOnWhatsApp(ctx, []string{"+" + contact})
	if err != nil {
		t.Fatalf("IsOnWhatsApp: %v", err)
	}
	if len(on) != 1 || !on[0].IsIn || on[0].PhoneNumber.User != contact || on[0].JID.Server != types.HiddenUserServer {
		t.Fatalf("IsOnWhatsApp = %+v", on)
	}
	contactPN := types.NewJID(contact, types.DefaultUserServer)
	info, err := tc.cli.GetUserInfo(ctx, []types.JID{contactPN})
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	lid := info[contactPN].LID
	if lid != on[0].JID || len(info[contactPN].Devices) != 1 {
		t.Fatalf("GetUserInfo = %+v, want LID %s and one device", info[contactPN], on[0].JID)
	}

	resp, err := tc.cli.SendMessage(ctx, lid, &waE2E.Message{Conversation: proto.String("to a LID")})
	if err != nil {
		t.Fatalf("SendMessage to LID: %v", err)
	}
	sent, err := srv.Sent(account)
	if err != nil || len(sent) != 1 || sent[0].ID != resp.ID || sent[0].Text != "to a LID" || sent[0].To != contact {
		t.Fatalf("Sent = %+v, %v", sent, err)
	}
}

// Client.Logout unlinks the device on the server too.
func TestClientLogout(t *testing.T) {
	srv := startServer(t)
	tc := pairQR(t, srv, "15550031001")
	if err := tc.cli.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if st := srv.Stats(); st.PairedDevices != 0 {
		t.Fatalf("paired devices after logout = %d", st.PairedDevices)
	}
	eventually(t, "the connection is closed", func() bool { return srv.Stats().Connections == 0 })
	// A client on a fresh store can link the number again.
	again := pairQR(t, srv, "15550031001")
	if st := srv.Stats(); st.PairedDevices != 1 || st.Accounts != 1 {
		t.Fatalf("stats after relinking = %+v", st)
	}
	// Device ids are never reused.
	if id := again.cli.Store.GetJID(); id.Device != 2 {
		t.Fatalf("relinked device = %s, want device 2", id)
	}
}
