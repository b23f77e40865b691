"""a pupil is (group, code): pupil codes are unique within a group only

Schools choose pupil codes ("2b-01"), unique within a group. The pupils table was keyed by the code
alone and invitations were unique per (programme, code, phase): a second school's "2b-01" got no
survey link and overwrote the first one's consent, and erasing one erased both.

Revision ID: 7d2e4b1a9c30
Revises: c5539f969986
Create Date: 2026-11-23 09:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '7d2e4b1a9c30'
down_revision: Union[str, Sequence[str], None] = 'c5539f969986'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PUPIL_COLUMNS = "group_id, pupil_ref, school_id, programme_id, age, parental_consent"


def _pupils_table(name: str, key: list[str]) -> None:
    op.create_table(name,
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('pupil_ref', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.String(length=64), nullable=False),
    sa.Column('programme_id', sa.String(length=64), nullable=False),
    sa.Column('age', sa.Integer(), nullable=True),
    sa.Column('parental_consent', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint(*key)
    )


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":  # the key keeps the name it was made with
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {old}_pkey TO {new}_pkey")


def upgrade() -> None:
    # pupils: primary key (group_id, pupil_ref); the rows are kept (copied into the new table)
    _pupils_table('pupils_new', ['group_id', 'pupil_ref'])
    op.execute(f"INSERT INTO pupils_new ({PUPIL_COLUMNS}) SELECT {PUPIL_COLUMNS} FROM pupils")
    op.drop_index('ix_pupils_group_id', table_name='pupils')
    op.drop_table('pupils')
    _rename('pupils_new', 'pupils')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_pupil')
        batch_op.drop_constraint('uq_invitation_pupil_phase', type_='unique')
        batch_op.create_unique_constraint('uq_invitation_pupil_phase', ['programme_id', 'group_id', 'pupil_ref', 'phase'])
        batch_op.create_index('ix_invitations_pupil', ['group_id', 'pupil_ref'], unique=False)


def downgrade() -> None:
    repeated = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM (SELECT pupil_ref FROM pupils GROUP BY pupil_ref HAVING COUNT(*) > 1) AS r")).scalar()
    if repeated:  # the old schema cannot hold them: refuse rather than drop some children's data
        raise RuntimeError(f"cannot downgrade: {repeated} pupil codes are used in more than one group")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_pupil')
        batch_op.drop_constraint('uq_invitation_pupil_phase', type_='unique')
        batch_op.create_unique_constraint('uq_invitation_pupil_phase', ['programme_id', 'pupil_ref', 'phase'])
        batch_op.create_index('ix_invitations_pupil', ['pupil_ref'], unique=False)

    _pupils_table('pupils_old', ['pupil_ref'])
    op.execute(f"INSERT INTO pupils_old ({PUPIL_COLUMNS}) SELECT {PUPIL_COLUMNS} FROM pupils")
    op.drop_table('pupils')
    _rename('pupils_old', 'pupils')
    op.create_index('ix_pupils_group_id', 'pupils', ['group_id'], unique=False)
