"""On PostgreSQL a transfer is one call of `wallet_transfer`, in autocommit: it locks both wallets in id
order, checks tenant, kind, currency and funds, and writes the movement, its two postings, both balances
and the movement's unsealed audit entry, all in the call's own transaction. It answers 'ok', 'replay'
(the Idempotency-Key was already used: the caller looks the earlier movement up), or the refusal:
'not_found', 'currency' or 'funds'. A refused request whose key was used is a replay too, so a replay
always gets the original answer. SQLite keeps the portable path in wallet/ledger.py.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

_FUNCTION = """
CREATE OR REPLACE FUNCTION wallet_transfer(
    p_id text, p_tenant text, p_from text, p_to text, p_amount bigint, p_currency text,
    p_key text, p_hash text, p_created_at timestamptz, p_audit_at text, p_actor text, p_detail text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    w wallets%ROWTYPE;
    src wallets%ROWTYPE;
    dst wallets%ROWTYPE;
    refusal text;
BEGIN
    FOR w IN
        SELECT * FROM wallets WHERE tenant_id = p_tenant AND id IN (p_from, p_to) ORDER BY id FOR UPDATE
    LOOP
        IF w.id = p_from THEN src := w; ELSE dst := w; END IF;
    END LOOP;
    IF src.id IS NULL OR dst.id IS NULL OR 'settlement' IN (src.kind, dst.kind) THEN
        refusal := 'not_found';
    ELSIF src.currency <> p_currency OR dst.currency <> p_currency THEN
        refusal := 'currency';
    ELSIF src.balance_minor - p_amount < 0 OR dst.balance_minor + p_amount < 0 THEN
        refusal := 'funds';
    END IF;
    IF refusal IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM movements WHERE tenant_id = p_tenant AND idempotency_key = p_key) THEN
            RETURN 'replay';
        END IF;
        RETURN refusal;
    END IF;
    INSERT INTO movements (id, tenant_id, kind, status, from_wallet, to_wallet, amount_minor, currency,
                           idempotency_key, request_hash, created_at)
    VALUES (p_id, p_tenant, 'transfer', 'completed', p_from, p_to, p_amount, p_currency,
            p_key, p_hash, p_created_at)
    ON CONFLICT ON CONSTRAINT uq_movements_idempotency DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'replay';
    END IF;
    INSERT INTO postings (tenant_id, movement_id, wallet_id, amount_minor, balance_after, created_at)
    VALUES (p_tenant, p_id, p_from, -p_amount, src.balance_minor - p_amount, p_created_at),
           (p_tenant, p_id, p_to, p_amount, dst.balance_minor + p_amount, p_created_at);
    UPDATE wallets SET balance_minor = src.balance_minor - p_amount WHERE id = p_from;
    UPDATE wallets SET balance_minor = dst.balance_minor + p_amount WHERE id = p_to;
    INSERT INTO audit_log (at, tenant_id, actor, action, subject, outcome, detail, prev_hash, hash)
    VALUES (p_audit_at, p_tenant, p_actor, 'money.transfer', p_id, 'success', p_detail, '', '');
    RETURN 'ok';
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION wallet_transfer(text, text, text, text, bigint, text, text, text, timestamptz, "
            "text, text, text)"
        )
