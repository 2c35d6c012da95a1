package eleanor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on product fields, matching the products table.
const (
	MaxNameLen = 120 // characters of product_name
	MaxTypeLen = 64  // characters of product_type

	// MaxPrice is the largest price in cents: DECIMAL(12,2) holds ten
	// digits before the point.
	MaxPrice Price = 999_999_999_999
)

// Price is an exact amount of money in cents.
type Price int64

// String formats the price with two decimals, as in "564.00".
func (p Price) String() string {
	return fmt.Sprintf("%d.%02d", p/100, p%100)
}

// ParsePrice parses a non-negative amount with at most two decimals, such
// as "564", "564.5" or "564.00". Signs, exponents and spaces are refused.
func ParsePrice(s string) (Price, error) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !digitsOnly(whole) || !digitsOnly(frac) ||
		(hasPoint && frac == "") || len(frac) > 2 || len(whole) > 10 {
		return 0, fmt.Errorf("price %q is not a non-negative amount "+
			"with at most two decimals", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	cents, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || Price(cents) > MaxPrice {
		return 0, fmt.Errorf("price %q is too large", s)
	}
	return Price(cents), nil
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ProductInput is the body of POST /api/product, as clients send it.
// Price may be a JSON string ("564.00", as in the walkthrough) or a
// number (564.5).
type ProductInput struct {
	Name  string      `json:"product_name"`
	Type  string      `json:"product_type"`
	Price json.Number `json:"price"`
}

// UnmarshalJSON accepts the price as a string or a number, and refuses
// anything else (null, true, an object) with a clear message.
func (in *ProductInput) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name  *string         `json:"product_name"`
		Type  *string         `json:"product_type"`
		Price json.RawMessage `json:"price"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*in = ProductInput{}
	if raw.Name != nil {
		in.Name = *raw.Name
	}
	if raw.Type != nil {
		in.Type = *raw.Type
	}
	p := bytes.TrimSpace(raw.Price)
	switch {
	case len(p) == 0 || string(p) == "null":
	case p[0] == '"':
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return err
		}
		in.Price = json.Number(s)
	case p[0] == '-' || (p[0] >= '0' && p[0] <= '9'):
		in.Price = json.Number(p)
	default:
		return fmt.Errorf("price must be a string or a number")
	}
	return nil
}

// Validate checks the input and returns it as a Product without id and
// time. All problems are listed in the error's Details.
func (in ProductInput) Validate() (*Product, error) {
	var problems []string
	name := strings.TrimSpace(in.Name)
	typ := strings.TrimSpace(in.Type)
	for _, f := range []struct {
		field, value string
		limit        int
	}{
		{"product_name", name, MaxNameLen},
		{"product_type", typ, MaxTypeLen},
	} {
		if p := checkText(f.field, f.value, f.limit); p != "" {
			problems = append(problems, p)
		}
	}
	var price Price
	if in.Price == "" {
		problems = append(problems, "price is required")
	} else if p, err := ParsePrice(string(in.Price)); err != nil {
		problems = append(problems, err.Error())
	} else {
		price = p
	}
	if problems != nil {
		return nil, &Error{
			Code:    EINVALID,
			Message: "invalid product",
			Details: problems,
		}
	}
	return &Product{Name: name, Type: typ, Price: price}, nil
}

// checkText returns the problem with a text field, or "" when it is a
// non-empty UTF-8 string of at most limit characters.
func checkText(field, value string, limit int) string {
	switch {
	case value == "":
		return field + " is required"
	case !utf8.ValidString(value):
		return field + " is not valid UTF-8"
	case utf8.RuneCountInString(value) > limit:
		return fmt.Sprintf("%s is longer than %d characters", field,
			limit)
	}
	return ""
}

// ValidProductID reports whether id looks like a product id: 32 lower-case
// hex digits. Anything else cannot exist, so it needs no query.
func ValidProductID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
