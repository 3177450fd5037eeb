"""The models on a migrated database (SQLite, and PostgreSQL with the ``postgres`` marker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from docg_server import migrate
from docg_server.billing import Plan
from docg_server.crypto import KeyRing, generate_key
from docg_server.db import create_db_engine, session_factory, session_scope
from docg_server.models import (
    DataSourceConnection,
    GeneratedDocument,
    Organization,
    ProcessedEvent,
    Role,
    Template,
    User,
    Workflow,
    WorkflowNode,
)


@pytest.fixture
def session(database_url: URL) -> Iterator[Session]:
    migrate.upgrade(database_url)
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def add_org(session: Session, name: str = "Acme") -> Organization:
    org = Organization(name=name)
    session.add(org)
    session.flush()
    return org


def test_a_new_organization_gets_the_free_plan_limits(session: Session) -> None:
    org = add_org(session)
    assert (org.plan, org.users_limit, org.documents_limit, org.workflows_limit) == (
        "free",
        1,
        10,
        5,
    )
    assert org.documents_used == 0


def test_apply_plan_copies_the_plan_limits(session: Session) -> None:
    org = add_org(session)
    org.apply_plan(Plan.TEAM)
    session.flush()
    assert (org.plan, org.users_limit, org.documents_limit, org.workflows_limit) == (
        "team",
        None,
        500,
        50,
    )


def test_the_database_refuses_an_unknown_plan(session: Session) -> None:
    session.add(Organization(name="Acme", plan="gold"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_timestamps_are_timezone_aware_utc(session: Session) -> None:
    org = add_org(session)
    org.period_start = datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=-3)))
    session.commit()
    session.expire_all()
    loaded = session.get(Organization, org.id)
    assert loaded is not None
    assert loaded.period_start == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert loaded.period_start.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None


def test_a_naive_datetime_is_refused(session: Session) -> None:
    org = add_org(session)
    org.period_start = datetime(2025, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()


def test_emails_are_unique_whatever_their_case(session: Session) -> None:
    org = add_org(session)
    session.add(User(organization=org, email=" Ana@Example.com ", password_hash="x", role="owner"))
    session.flush()
    assert session.scalars(sa.select(User.email)).one() == "ana@example.com"
    session.add(User(organization=org, email="ANA@example.COM", password_hash="x"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_the_database_refuses_an_upper_case_email_written_around_the_model(
    session: Session,
) -> None:
    org = add_org(session)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            sa.insert(User).values(
                id=org.id,
                organization_id=org.id,
                email="Ana@Example.com",
                password_hash="x",
                role=Role.MEMBER,
                is_active=True,
                created_at=org.created_at,
                updated_at=org.created_at,
            )
        )


def test_deleting_an_organization_deletes_its_rows(session: Session) -> None:
    org = add_org(session)
    workflow = Workflow(organization=org, name="Contracts", definition={"name": "Contracts"})
    workflow.nodes.append(WorkflowNode(node_id="deal", node_type="hubspot", position=1))
    session.add_all(
        [
            User(organization=org, email="a@example.com", password_hash="x"),
            workflow,
            Template(
                organization_id=org.id, name="t", storage_key="k", sha256="0" * 64, kind="docx"
            ),
        ]
    )
    session.commit()
    session.execute(sa.delete(Organization).where(Organization.id == org.id))
    session.commit()
    for model in (User, Workflow, WorkflowNode, Template):
        assert session.scalar(sa.select(sa.func.count()).select_from(model)) == 0


def test_nodes_come_back_in_position_order_with_their_json(session: Session) -> None:
    org = add_org(session)
    workflow = Workflow(organization=org, name="w")
    conditions = [{"name": "Big", "conditions": None, "next_node_id": "sign"}]
    workflow.nodes = [
        WorkflowNode(
            node_id="b", position=2, structural_type="branch", branch_conditions=conditions
        ),
        WorkflowNode(
            node_id="a",
            position=1,
            node_type="hubspot",
            action="get-object",
            config={"parameters": {"object_id": "{{trigger.id}}"}},
        ),
    ]
    session.add(workflow)
    session.commit()
    session.expire_all()
    loaded = session.get(Workflow, workflow.id)
    assert loaded is not None
    assert [node.node_id for node in loaded.nodes] == ["a", "b"]
    assert loaded.nodes[0].config == {"parameters": {"object_id": "{{trigger.id}}"}}
    assert loaded.nodes[1].branch_conditions == conditions
    assert loaded.nodes[0].branch_conditions is None


def test_node_ids_are_unique_within_a_workflow(session: Session) -> None:
    workflow = Workflow(organization=add_org(session), name="w")
    workflow.nodes = [WorkflowNode(node_id="a", position=1), WorkflowNode(node_id="a", position=2)]
    session.add(workflow)
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_processed_event_is_recorded_once(session: Session) -> None:
    session.add(ProcessedEvent(provider="stripe", event_id="evt_1"))
    session.flush()
    session.add(ProcessedEvent(provider="clicksign", event_id="evt_1"))
    session.flush()
    session.add(ProcessedEvent(provider="stripe", event_id="evt_1"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_connection_credentials_are_stored_encrypted_and_bound_to_their_row(
    session: Session,
) -> None:
    keys = KeyRing.parse(generate_key("k1"))
    org = add_org(session)
    first = DataSourceConnection(
        organization_id=org.id, app_key="hubspot", name="main", credentials=""
    )
    second = DataSourceConnection(
        organization_id=org.id, app_key="hubspot", name="other", credentials=""
    )
    session.add_all([first, second])
    session.flush()
    first.credentials = keys.encrypt_json({"access_token": "tok-1"}, str(first.id))
    session.commit()

    stored = session.scalar(
        sa.select(DataSourceConnection.credentials).where(DataSourceConnection.id == first.id)
    )
    assert stored is not None and "tok-1" not in stored
    assert keys.decrypt_json(stored, str(first.id)) == {"access_token": "tok-1"}
    with pytest.raises(Exception, match="authentication failed"):
        keys.decrypt_json(stored, str(second.id))


def test_a_document_outlives_its_deleted_template(database_url: URL) -> None:
    migrate.upgrade(database_url)
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        factory = session_factory(engine)
        with session_scope(factory) as session:
            org = add_org(session)
            template = Template(
                organization_id=org.id, name="t", storage_key="k", sha256="0" * 64, kind="docx"
            )
            session.add(template)
            session.flush()
            document = GeneratedDocument(
                organization_id=org.id,
                execution_id="exec-1",
                node_id="contract",
                template_id=template.id,
                template_key="k",
                template_sha256="0" * 64,
                data_sha256="1" * 64,
                file_key="out/contract.docx",
                lineage={"template": "k", "data": {"deal": "42"}},
            )
            session.add(document)
        with session_scope(factory) as session:
            session.execute(sa.delete(Template))
        with session_scope(factory) as session:
            loaded = session.scalars(sa.select(GeneratedDocument)).one()
            assert loaded.template_id is None
            assert loaded.lineage == {"template": "k", "data": {"deal": "42"}}
    finally:
        engine.dispose()
