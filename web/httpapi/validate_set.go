package httpapi

import (
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// SetText validates and assigns an optional text field.
func SetText(dst *string, src *string, field string, max int) error {
	if src == nil {
		return nil
	}
	if err := CheckText(field, *src, max); err != nil {
		return err
	}
	*dst = strings.TrimSpace(*src)
	return nil
}

// SetSecret validates and assigns an optional write-only value; "" clears it.
func SetSecret(dst *string, src *string, field string, max int) error {
	if src == nil {
		return nil
	}
	if err := CheckText(field, *src, max); err != nil {
		return err
	}
	*dst = *src
	return nil
}

// ValidProvider tells one of db.Providers.
func ValidProvider(p string) bool {
	for _, v := range db.Providers {
		if p == v {
			return true
		}
	}
	return false
}
