package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/message"
)

// Fetcher serves files registered by URL, standing in for the web.
type Fetcher struct {
	mu      sync.Mutex
	files   map[string]message.File
	fetched []string
}

var _ message.Fetcher = (*Fetcher)(nil)

func NewFetcher() *Fetcher { return &Fetcher{files: make(map[string]message.File)} }

// Put makes f the file at url.
func (f *Fetcher) Put(url string, file message.File) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[url] = file
}

func (f *Fetcher) Fetch(_ context.Context, url string) (message.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetched = append(f.fetched, url)
	file, ok := f.files[url]
	if !ok {
		return message.File{}, domain.Errorf(domain.KindInvalid, "media URL answered 404 Not Found")
	}
	return file, nil
}

// Fetched lists the URLs asked for, in order.
func (f *Fetcher) Fetched() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fetched)
}
