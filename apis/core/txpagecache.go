package core

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"sync"
)

// A transaction page is a pure function of the account's ledger, and the
// ledger is append-only: a posting is inserted once with the next sequence
// number and never changed (the only deletion, a sandbox reseed of the
// synthetic accounts, inserts new rows with new random ids). So the ledger's
// head, the newest posting's (seq, id), names the ledger's whole state, and a
// page read when the head was H is still the page while the head is H.
//
// Each node keeps the pages it served, with the head they were read at. A
// page request reads the head (one indexed row, two columns) and, when it is
// the cached page's, answers from memory instead of reading and decoding the
// page's rows (the profile's largest cost: 51 rows × 19 columns). A posting
// on any node moves the head, so the next request of any node reads the page
// again: there is nothing to invalidate and nothing to go stale. A page whose
// read raced a posting is stored under the head read before it; since a head
// never comes back, such an entry is never served.

// Page cache bounds: the cached postings of all pages (a Transaction is a few
// hundred bytes, so about 20 MB).
const txPageCacheMaxTransactions = 50_000

// ledgerHead is the newest posting of an account's ledger.
type ledgerHead struct {
	Seq int64
	ID  string
}

type cachedPage struct {
	head ledgerHead
	page TransactionPage
}

// txPageCache holds a node's recently served transaction pages.
type txPageCache struct {
	mu    sync.Mutex
	pages map[string]*cachedPage
	size  int // transactions held, across pages
}

// pageKey names a page: its account, filters, cursor position and size.
func pageKey(accountID string, q TransactionQuery, below int64, limit int) string {
	return queryBinding(accountID, q) + "|" + strconv.FormatInt(below, 10) + "|" + strconv.Itoa(limit)
}

// get returns a copy of the page cached under key for head, if any.
func (c *txPageCache) get(key string, head ledgerHead) (*TransactionPage, bool) {
	c.mu.Lock()
	e, ok := c.pages[key]
	c.mu.Unlock()
	if !ok || e.head != head {
		return nil, false
	}
	return &TransactionPage{Transactions: slices.Clone(e.page.Transactions), NextCursor: e.page.NextCursor, Version: e.page.Version}, true
}

// put caches page under key for head, evicting other pages (in the map's
// random order) while the cache holds too many transactions.
func (c *txPageCache) put(key string, head ledgerHead, page *TransactionPage) {
	n := len(page.Transactions)
	if n > txPageCacheMaxTransactions/8 {
		return
	}
	e := &cachedPage{head: head, page: TransactionPage{Transactions: slices.Clone(page.Transactions), NextCursor: page.NextCursor, Version: page.Version}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil {
		c.pages = map[string]*cachedPage{}
	}
	if old, ok := c.pages[key]; ok {
		c.size -= len(old.page.Transactions)
	}
	for k, old := range c.pages {
		if c.size+n <= txPageCacheMaxTransactions {
			break
		}
		if k != key {
			c.size -= len(old.page.Transactions)
			delete(c.pages, k)
		}
	}
	c.pages[key] = e
	c.size += n
}

// pageVersion is a page's TransactionPage.Version: its key and the head
// it was read at (a page is a function of both).
func pageVersion(key string, head ledgerHead) string {
	return key + "|" + strconv.FormatInt(head.Seq, 10) + "|" + head.ID
}

// head reads the newest posting of accountID's ledger; ok is false for an
// empty ledger (or an unknown account).
func (r *Reference) head(ctx context.Context, accountID string) (h ledgerHead, ok bool, err error) {
	err = r.db.DB.WithContext(ctx).Raw("SELECT seq, id FROM core_transactions WHERE account_id = ? ORDER BY seq DESC LIMIT 1", accountID).
		Row().Scan(&h.Seq, &h.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return ledgerHead{}, false, nil
	}
	if err != nil {
		return ledgerHead{}, false, err
	}
	return h, true, nil
}
