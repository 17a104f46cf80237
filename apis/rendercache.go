package apis

import (
	"encoding/json"
	"sync"

	"github.com/bankbridge/bankbridge/apis/core"
)

// renderedMaxBytes bounds a node's rendered transaction pages.
const renderedMaxBytes = 16 << 20

// renderCache keeps the OB JSON of transaction pages the core named with a
// Version (core.TransactionPage): a page with the same Version holds the
// same transactions, so its rendering is the same too, and a page served
// again (the core's page cache, apis/core/txpagecache.go) is not encoded
// again: encoding 50 transactions was 8 % of a call's CPU.
type renderCache struct {
	mu    sync.Mutex
	pages map[string][]byte
	size  int
}

// transactions is the JSON array of page's transactions in the OB format
// (detail: with the ReadTransactionsDetail fields).
func (rc *renderCache) transactions(page *core.TransactionPage, detail bool) (json.RawMessage, error) {
	key := ""
	if page.Version != "" {
		key = page.Version + map[bool]string{true: "|detail", false: "|basic"}[detail]
		rc.mu.Lock()
		b, ok := rc.pages[key]
		rc.mu.Unlock()
		if ok {
			return b, nil
		}
	}
	out := make([]obTransaction, len(page.Transactions))
	for i := range page.Transactions {
		out[i] = toOBTransaction(&page.Transactions[i], detail)
	}
	b, err := json.Marshal(out)
	if err != nil || key == "" || len(b) > renderedMaxBytes/8 {
		return b, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.pages == nil {
		rc.pages = map[string][]byte{}
	}
	if old, ok := rc.pages[key]; ok {
		rc.size -= len(old)
	}
	for k, old := range rc.pages {
		if rc.size+len(b) <= renderedMaxBytes {
			break
		}
		rc.size -= len(old)
		delete(rc.pages, k)
	}
	rc.pages[key] = b
	rc.size += len(b)
	return b, nil
}
