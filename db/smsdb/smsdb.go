// Package smsdb is the SMS and MMS store: the outbound queue with its
// leases, inbound messages and their forwards to assistants' webhooks,
// delivery reports, conversations, opt-outs and the queue's counts. Its
// tables and migration stay in package db (version 3, "sms and mms"), as do
// the assistants' forwarding secrets, which secret rotation reseals.
package smsdb

import (
	"context"

	"github.com/sipbridge/sipbridge/db"
	"gorm.io/gorm"
)

// Store is a db.Store with the SMS queries. It is a thin view: New costs
// nothing, so a holder of a *db.Store may wrap it where it needs it.
type Store struct{ *db.Store }

// New returns the SMS view of s.
func New(s *db.Store) *Store { return &Store{s} }

func (s *Store) db(ctx context.Context) *gorm.DB { return s.DB.WithContext(ctx) }

func (s *Store) scoped(ctx context.Context, orgID int64) *gorm.DB {
	return s.DB.WithContext(ctx).Where("org_id = ?", orgID)
}
