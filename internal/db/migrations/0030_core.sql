-- apis/core: the embedded reference core banking system that serves the sandbox
-- (customers and their logins, accounts, booked transactions, executed payments).
-- A bank that plugs its own core behind core.Core does not use these tables.

CREATE TABLE core_customers (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL,
    consent_behaviour TEXT NOT NULL DEFAULT '',
    synthetic BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX core_customers_username ON core_customers (username);

CREATE TABLE core_accounts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    sub_type TEXT NOT NULL,
    nickname TEXT NOT NULL DEFAULT '',
    holder_name TEXT NOT NULL,
    currency TEXT NOT NULL,
    scheme_name TEXT NOT NULL,
    identification TEXT NOT NULL,
    sort_code TEXT NOT NULL DEFAULT '',
    account_number TEXT NOT NULL DEFAULT '',
    masked_pan TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    status_updated_at TIMESTAMPTZ NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    balance_minor BIGINT NOT NULL,
    credit_limit_minor BIGINT NOT NULL DEFAULT 0,
    txn_seq BIGINT NOT NULL DEFAULT 0,
    last_booked_at TIMESTAMPTZ NOT NULL,
    synthetic BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX core_accounts_customer ON core_accounts (customer_id, opened_at);
CREATE UNIQUE INDEX core_accounts_scheme_identification ON core_accounts (scheme_name, identification);

CREATE TABLE core_transactions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    booked_at TIMESTAMPTZ NOT NULL,
    value_at TIMESTAMPTZ NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    credit_debit TEXT NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    merchant_name TEXT NOT NULL DEFAULT '',
    merchant_category_code TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    reference TEXT NOT NULL DEFAULT '',
    counterparty_name TEXT NOT NULL DEFAULT '',
    counterparty_scheme TEXT NOT NULL DEFAULT '',
    counterparty_identification TEXT NOT NULL DEFAULT '',
    balance_after_minor BIGINT NOT NULL,
    payment_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX core_transactions_account_seq ON core_transactions (account_id, seq);
CREATE INDEX core_transactions_account_booked ON core_transactions (account_id, booked_at, seq);

CREATE TABLE core_payments (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    debtor_account_id TEXT NOT NULL,
    creditor_scheme TEXT NOT NULL,
    creditor_identification TEXT NOT NULL,
    creditor_name TEXT NOT NULL DEFAULT '',
    creditor_account_id TEXT NOT NULL DEFAULT '',
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reject_reason TEXT NOT NULL DEFAULT '',
    debit_transaction_id TEXT NOT NULL DEFAULT '',
    credit_transaction_id TEXT NOT NULL DEFAULT '',
    booked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX core_payments_debtor ON core_payments (debtor_account_id, created_at);
