"""Demo data, applied by ``python -m merchants.cli seed``, which prints the demo credentials as one JSON object.

Creates, if missing, the staff administrator ``admin-haixi`` (a Haixi regulator holding ``staff_admin``) and four
regulator accounts, ``reg-qinghai`` (Qinghai province, 630000), ``reg-haixi`` (Haixi prefecture, 632800),
``reg-golmud`` (Golmud, 632801; the one printed as ``regulator``) and ``reg-delingha`` (Delingha, 632802): a
province, a prefecture and two of its county-level cities, so the console's statistics drill down from the
province to a county with demo accounts alone. All have the password from the
required ``ODR_DEMO_REGULATOR_PASSWORD``, and two merchants in Golmud, both approved ODR enterprises; the
approval emits ``merchants.enrollment.approved.v1`` once per merchant, through the outbox. It also registers a
consumer-rights service station in Golmud, hosted by the first of them, with one station staff account,
``station-golmud``, sharing the regulators' password (the station desk at /station/).

Each demo merchant also gets one enterprise portal admin (``kunlun-admin``, ``yanhu-admin``) who signs in at
``/portal/`` directly with the demo password: unlike a real enterprise's first admin, who chooses a password with a
one-time activation code, a demo account must work at once.

Running it again duplicates nothing. Client secrets are stored hashed and cannot be printed again,
so every run rotates: the demo merchants' live API clients are revoked and a new client is issued
and printed. The regulators' password is reset to the one in the environment. Database settings are
read from the environment like the service's (``ODR_DATABASE_URL``, ``ODR_DATABASE_NAME``).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.access import service as access_service
from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffRole
from merchants.database import outbox as outbox_table
from merchants.enrollment import service as enrollment_service
from merchants.enrollment.state import EnrollmentStatus
from merchants.registry import service as registry_service
from merchants.registry.service import MerchantDetails
from merchants.settings import MerchantsSettings
from merchants.stations.models import Station
from merchants.stations.schemas import StationCreate
from servicekit.db import create_engine, create_sessionmaker
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher

GOLMUD = "632801"
REGULATOR_USERNAME = "reg-golmud"
# (username, region, bureau): the province, the prefecture and two of its county-level cities.
DEMO_REGULATORS = (
    ("reg-qinghai", "630000", "青海省市场监督管理局"),
    ("reg-haixi", "632800", "海西蒙古族藏族自治州市场监督管理局"),
    (REGULATOR_USERNAME, GOLMUD, "格尔木市市场监督管理局"),
    ("reg-delingha", "632802", "德令哈市市场监督管理局"),
)
# The demo staff administrator: a Haixi prefecture regulator who manages the staff accounts of Haixi (issue 14).
DEMO_STAFF_ADMIN = ("admin-haixi", "632800", "海西州市场监督管理局人事科")
# The id is what audit rows written by the seed have always named; kept so they stay recognisable.
SEED_ACTOR = enrollment_service.Actor(role="system", id="merchants.seed")
DEMO_MERCHANTS = (
    MerchantDetails(name="格尔木昆仑商贸有限公司", uscc="91632801MA7KL2Q38M", region_code=GOLMUD,
                    address="青海省格尔木市昆仑中路28号", sector="retail"),
    MerchantDetails(name="格尔木盐湖特产电子商务有限公司", uscc="91632801MA7KY8D595", region_code=GOLMUD,
                    address="青海省格尔木市柴达木路16号", sector="online_shopping"),
)
# The portal admin of each demo merchant, in the order above, and the name it shows.
DEMO_PORTAL_ADMINS = (("kunlun-admin", "昆仑商贸客服主管"), ("yanhu-admin", "盐湖特产客服主管"))

STATION_USERNAME = "station-golmud"
DEMO_STATION = StationCreate(name="格尔木市昆仑中路消费维权服务站", host_name=DEMO_MERCHANTS[0].name,
                             region_code=GOLMUD, address="青海省格尔木市昆仑中路28号一楼服务台", phone="0979-8412315")


class SeedSettings(MerchantsSettings):
    """The service settings plus the demo regulator's password (ODR_DEMO_REGULATOR_PASSWORD, required)."""

    demo_regulator_password: SecretStr


async def seed_merchant(session: AsyncSession, outbox: Outbox, cipher: PiiCipher, details: MerchantDetails, *,
                        portal_admin: tuple[str, str], portal_password: str) -> dict[str, str]:
    """Make `details` an approved ODR enterprise with a portal admin (password `portal_password`) and return a freshly
    issued client for it."""
    async with session.begin():
        merchant = await registry_service.find_by_uscc(session, details.uscc)
        enrollment = await enrollment_service.enrollment_of_merchant(session, merchant.id) if merchant else None
    if merchant is None:
        enrollment = await enrollment_service.apply_for_enrollment(session, details=details, actor=SEED_ACTOR,
                                                                   cipher=cipher)
    elif enrollment is None:
        raise RuntimeError(f"demo merchant {details.uscc} is registered without an enrollment")
    if enrollment.status == EnrollmentStatus.PENDING:
        issued = await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=enrollment.id,
                                                             actor=SEED_ACTOR, cipher=cipher, reason="demo enterprise")
    elif enrollment.status == EnrollmentStatus.APPROVED:
        issued = (await access_service.rotate_api_client(session, merchant_id=enrollment.merchant_id)).issued
    else:
        raise RuntimeError(f"demo merchant {details.uscc} is {enrollment.status}, not approved")
    username, display_name = portal_admin
    await credentials_service.upsert_staff_account(
        session, username=username, password=portal_password, role=StaffRole.ENTERPRISE_ADMIN.value,
        region_code=details.region_code, display_name=display_name, merchant_id=issued.merchant_id)
    return {"merchant_id": str(issued.merchant_id), "name": details.name, "client_id": issued.client_id,
            "client_secret": issued.client_secret, "portal_username": username, "portal_password": portal_password}


async def seed_station(session: AsyncSession, password: str) -> dict[str, str]:
    """The demo station (found by name and region, else registered) and its staff account (password reset)."""
    async with session.begin():
        station = (await session.execute(select(Station).where(
            Station.name == DEMO_STATION.name, Station.region_code == DEMO_STATION.region_code))).scalar_one_or_none()
        if station is None:
            host = await registry_service.find_by_uscc(session, DEMO_MERCHANTS[0].uscc)
            station = Station(**DEMO_STATION.model_dump(exclude={"host_merchant_id"}),
                              host_merchant_id=host.id if host else None, created_by=SEED_ACTOR.id)
            session.add(station)
            await session.flush()
        station_id = station.id
    await credentials_service.upsert_staff_account(
        session, username=STATION_USERNAME, password=password, role=StaffRole.STATION_STAFF.value,
        region_code=DEMO_STATION.region_code, display_name=f"{DEMO_STATION.name}值班员", station_id=station_id)
    return {"station_id": str(station_id), "name": DEMO_STATION.name, "username": STATION_USERNAME,
            "password": password, "region": DEMO_STATION.region_code}


async def seed(settings: SeedSettings) -> dict[str, Any]:
    """Apply the demo data and return what the demo needs to log in."""
    engine = create_engine(settings, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    outbox = Outbox(outbox_table, settings.service_name)
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    password = settings.demo_regulator_password.get_secret_value()
    try:
        async with sessionmaker() as session:
            for username, region, bureau in DEMO_REGULATORS:
                await credentials_service.upsert_staff_account(
                    session, username=username, password=password, role=StaffRole.REGULATOR.value,
                    region_code=region, display_name=bureau)
            admin_username, admin_region, admin_office = DEMO_STAFF_ADMIN
            await credentials_service.upsert_staff_account(
                session, username=admin_username, password=password, role=StaffRole.REGULATOR.value,
                region_code=admin_region, display_name=admin_office, staff_admin=True)
            merchants = [await seed_merchant(session, outbox, cipher, details, portal_admin=admin,
                                             portal_password=password)
                         for details, admin in zip(DEMO_MERCHANTS, DEMO_PORTAL_ADMINS, strict=True)]
            stations = [await seed_station(session, password)]
    finally:
        await engine.dispose()
    return {"regulator": {"username": REGULATOR_USERNAME, "password": password, "region": GOLMUD},
            "regulators": [{"username": username, "password": password, "region": region}
                           for username, region, _ in DEMO_REGULATORS],
            "staff_admin": {"username": admin_username, "password": password, "region": admin_region},
            "merchants": merchants,
            "stations": stations}

