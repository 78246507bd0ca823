package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/key"
)

// Keys keeps API keys in a map.
type Keys struct {
	mu   sync.Mutex
	keys map[key.ID]key.Snapshot
}

var _ key.Repository = (*Keys)(nil)

func NewKeys() *Keys { return &Keys{keys: make(map[key.ID]key.Snapshot)} }

func (r *Keys) Create(_ context.Context, k *key.Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := k.Snapshot()
	for _, other := range r.keys {
		if other.ID == s.ID || other.Hash == s.Hash {
			return domain.Errorf(domain.KindConflict, "key %s already exists", s.ID)
		}
	}
	r.keys[s.ID] = s
	return nil
}

func (r *Keys) ByHash(_ context.Context, h key.Hash) (*key.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.keys {
		if s.Hash == h {
			return key.Rehydrate(s), nil
		}
	}
	return nil, key.NotFound("")
}

func (r *Keys) List(context.Context) ([]*key.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*key.Key, 0, len(r.keys))
	for _, s := range r.keys {
		out = append(out, key.Rehydrate(s))
	}
	slices.SortFunc(out, func(a, b *key.Key) int {
		sa, sb := a.Snapshot(), b.Snapshot()
		return cmp.Or(sa.CreatedAt.Compare(sb.CreatedAt), cmp.Compare(sa.ID, sb.ID))
	})
	return out, nil
}

func (r *Keys) Delete(_ context.Context, id key.ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[id]; !ok {
		return key.NotFound(id)
	}
	delete(r.keys, id)
	return nil
}
