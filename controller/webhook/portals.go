package webhook

import (
	"context"
	"fmt"
	"net/url"

	bolt "go.etcd.io/bbolt"
)

// bucketPortals keeps where each account's webhooks go: account -> URL.
var bucketPortals = []byte("portals")

// SetPortalURL sets where the account's webhooks and lookups go; "" removes
// it, and the account's events wait until it has one again.
func (o *Outbox) SetPortalURL(ctx context.Context, account, portal string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if portal != "" {
		u, err := url.Parse(portal)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: portal URL %q: want http(s)://host/path", ErrInvalid, portal)
		}
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketRoot).CreateBucketIfNotExists(bucketPortals)
		if err != nil {
			return err
		}
		if portal == "" {
			return b.Delete([]byte(account))
		}
		return b.Put([]byte(account), []byte(portal))
	})
	if err != nil {
		return fmt.Errorf("set the portal of %s: %w", account, err)
	}
	o.poke()
	return nil
}

// PortalURL is where the account's webhooks go, or ErrNoPortal.
func (o *Outbox) PortalURL(ctx context.Context, account string) (string, error) {
	var portal string
	err := o.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketRoot).Bucket(bucketPortals); b != nil {
			portal = string(b.Get([]byte(account)))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("portal of %s: %w", account, err)
	}
	if portal == "" {
		return "", fmt.Errorf("%s: %w", account, ErrNoPortal)
	}
	return portal, nil
}
