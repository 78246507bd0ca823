package key

import (
	"context"

	"github.com/wagate/wagate/domain"
)

// Repository stores the keys created through the API.
type Repository interface {
	Create(ctx context.Context, k *Key) error
	// ByHash finds the key whose secret has this hash; domain.KindNotFound when none does.
	ByHash(ctx context.Context, h Hash) (*Key, error)
	// List returns every key, oldest first.
	List(ctx context.Context) ([]*Key, error)
	// Delete removes a key; domain.KindNotFound when there is none.
	Delete(ctx context.Context, id ID) error
}

// NotFound is the error repositories return for a key they do not have.
func NotFound(id ID) error {
	return domain.Errorf(domain.KindNotFound, "key %s not found", id)
}
