package message

import "context"

// File is a file fetched for sending.
type File struct {
	Data     []byte
	MimeType string
	FileName string
}

// Fetcher downloads files from URLs that API users give. Implementations must refuse
// addresses the gateway should not reach on a user's behalf (loopback, private networks,
// cloud metadata), bound the size, and fail with a domain.KindInvalid error the user can
// act on.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (File, error)
}
