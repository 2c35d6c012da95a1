package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/eleanor-lab/eleanor"
	"github.com/go-sql-driver/mysql"
)

// ProductStore keeps products in MySQL, writing through the router to the
// primary and reading from wherever the router decides.
type ProductStore struct {
	router *Router
	now    func() time.Time
}

// NewProductStore returns a store on router. now stamps new products; nil
// means time.Now.
func NewProductStore(router *Router, now func() time.Time) *ProductStore {
	if now == nil {
		now = time.Now
	}
	return &ProductStore{router: router, now: now}
}

var _ eleanor.ProductService = (*ProductStore)(nil)

// CreateProduct inserts the product, or returns the id of the product of
// the same name. The unique key on the name, not a read before the write,
// decides: two identical requests racing get the same id.
func (s *ProductStore) CreateProduct(ctx context.Context,
	in eleanor.ProductInput) (string, error) {
	p, err := in.Validate()
	if err != nil {
		return "", err
	}
	id := newID()
	created := s.now().UTC().Truncate(time.Millisecond)

	err = s.router.Write(ctx, func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, "INSERT INTO products "+
			"(id, `timestamp`, product_name, product_type, price) "+
			"VALUES (?, ?, ?, ?, ?)",
			id, created, p.Name, p.Type, p.Price.String())
		if !isDuplicate(err) {
			return err
		}
		return db.QueryRowContext(ctx,
			"SELECT id FROM products WHERE product_name = ?",
			p.Name).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("create product: %w", err)
	}
	return id, nil
}

// FindProduct returns the product with the given id.
func (s *ProductStore) FindProduct(ctx context.Context,
	id string) (*eleanor.Product, error) {
	if !eleanor.ValidProductID(id) {
		return nil, eleanor.Errorf(eleanor.ENOTFOUND,
			"product %q not found", id)
	}

	var (
		p     eleanor.Product
		price string
	)
	err := s.router.Read(ctx, func(ctx context.Context, db *sql.DB) error {
		err := db.QueryRowContext(ctx, "SELECT id, `timestamp`, "+
			"product_name, product_type, price FROM products WHERE id = ?",
			id).Scan(&p.ID, &p.CreatedAt, &p.Name, &p.Type, &price)
		if errors.Is(err, sql.ErrNoRows) {
			return eleanor.Errorf(eleanor.ENOTFOUND,
				"product %q not found", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find product: %w", err)
	}

	if p.Price, err = eleanor.ParsePrice(price); err != nil {
		return nil, fmt.Errorf("find product: stored %w", err)
	}
	return &p, nil
}

// newID returns 32 random hex digits, the form of the seed's uuid4().hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
