package eleanor_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eleanor-lab/eleanor"
	"github.com/google/go-cmp/cmp"
)

func TestParsePrice(t *testing.T) {
	good := map[string]eleanor.Price{
		"564.00": 56400, "564": 56400, "564.5": 56450, "0": 0,
		"0.01": 1, "9999999999.99": eleanor.MaxPrice,
	}
	for in, want := range good {
		got, err := eleanor.ParsePrice(in)
		if err != nil || got != want {
			t.Errorf("ParsePrice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.", ".5", "1.234", "1e3",
		" 1", "1,00", "abc", "10000000000", "NaN", "0x10"} {
		if got, err := eleanor.ParsePrice(in); err == nil {
			t.Errorf("ParsePrice(%q) = %d, want an error", in, got)
		}
	}
}

func TestPriceString(t *testing.T) {
	for p, want := range map[eleanor.Price]string{
		0: "0.00", 5: "0.05", 56400: "564.00", 56450: "564.50",
	} {
		if got := p.String(); got != want {
			t.Errorf("Price(%d).String() = %q, want %q", p, got, want)
		}
	}
}

func TestProductInputValidate(t *testing.T) {
	tests := []struct {
		body    string
		want    *eleanor.Product
		details []string
	}{{
		body: `{"product_name": " Samsung TV ", "product_type": "consumer good",
			"price": "564.00"}`,
		want: &eleanor.Product{Name: "Samsung TV", Type: "consumer good",
			Price: 56400},
	}, {
		body: `{"product_name": "a", "product_type": "b", "price": 12.5}`,
		want: &eleanor.Product{Name: "a", Type: "b", Price: 1250},
	}, {
		body: `{}`,
		details: []string{"product_name is required",
			"product_type is required", "price is required"},
	}, {
		body: `{"product_name": "` + strings.Repeat("é", 121) +
			`", "product_type": "b", "price": "-1"}`,
		details: []string{"product_name is longer than 120 characters",
			`price "-1" is not a non-negative amount with at most two decimals`},
	}}
	for _, tt := range tests {
		var in eleanor.ProductInput
		if err := json.Unmarshal([]byte(tt.body), &in); err != nil {
			t.Fatalf("unmarshal %s: %v", tt.body, err)
		}
		got, err := in.Validate()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Validate(%s) (-want +got):\n%s", tt.body, diff)
		}
		var details []string
		if e, ok := err.(*eleanor.Error); ok {
			details = e.Details
			if e.Code != eleanor.EINVALID {
				t.Errorf("code = %q, want %q", e.Code, eleanor.EINVALID)
			}
		}
		if diff := cmp.Diff(tt.details, details); diff != "" {
			t.Errorf("Validate(%s) details (-want +got):\n%s", tt.body, diff)
		}
	}
}

func TestProductInputRefusesOddPrices(t *testing.T) {
	for _, body := range []string{`{"price": true}`, `{"price": {}}`,
		`{"price": [1]}`} {
		var in eleanor.ProductInput
		if err := json.Unmarshal([]byte(body), &in); err == nil {
			t.Errorf("unmarshal %s: want an error", body)
		}
	}
}

// FuzzProductInput checks that no body makes decoding or validation panic,
// and that whatever validates fits the products table.
func FuzzProductInput(f *testing.F) {
	f.Add(`{"product_name": "Samsung TV", "product_type": "tv", "price": "564.00"}`)
	f.Add(`{"product_name": "", "price": 1e400}`)
	f.Add(`{"price": "00000000001.5"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		var in eleanor.ProductInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			return
		}
		p, err := in.Validate()
		if err != nil {
			if eleanor.ErrorCode(err) != eleanor.EINVALID {
				t.Fatalf("Validate error code %q", eleanor.ErrorCode(err))
			}
			return
		}
		switch {
		case p.Name == "" || utf8.RuneCountInString(p.Name) > eleanor.MaxNameLen:
			t.Fatalf("name %q passed validation", p.Name)
		case p.Type == "" || utf8.RuneCountInString(p.Type) > eleanor.MaxTypeLen:
			t.Fatalf("type %q passed validation", p.Type)
		case p.Price < 0 || p.Price > eleanor.MaxPrice:
			t.Fatalf("price %d passed validation", p.Price)
		}
		back, err := eleanor.ParsePrice(p.Price.String())
		if err != nil || back != p.Price {
			t.Fatalf("price %d does not round-trip: %v", p.Price, err)
		}
	})
}

// BenchmarkProductInput measures decoding and validating a creation body.
func BenchmarkProductInput(b *testing.B) {
	body := []byte(`{"product_name": "Samsung TV multicolor", ` +
		`"product_type": "consumer good", "price": "564.00"}`)
	for b.Loop() {
		var in eleanor.ProductInput
		if err := json.Unmarshal(body, &in); err != nil {
			b.Fatal(err)
		}
		if _, err := in.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
