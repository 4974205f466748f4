"""factory_boy factories shared by every app's tests."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from catalog.choices import ChannelKind
from catalog.models import SKU, Category, Channel, Product
from config.roles import Role
from stores.choices import StaffRole, StoreKind, StoreStatus
from stores.models import Partner, StaffMembership, Store


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234-word")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=Role(role).value)[0])
        if create:
            self.save()


def hq_user(**kwargs):
    return UserFactory(roles=[Role.HQ_ADMIN], is_staff=True, **kwargs)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    code = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"SPU{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    brand = "LeTV"
    category = factory.SubFactory(CategoryFactory)


class SKUFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SKU

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"SKU{n:06d}")
    barcode = factory.Sequence(lambda n: f"69{n:011d}")
    name = factory.LazyAttribute(lambda s: f"{s.product.name} variant")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda c: c.code.title())
    kind = ChannelKind.OWN_MALL


class DealerChannelFactory(ChannelFactory):
    kind = ChannelKind.DEALER
    margin_floor_percent = Decimal("8.00")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    code = factory.Sequence(lambda n: f"partner-{n}")
    name = factory.Sequence(lambda n: f"Partner {n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    code = factory.Sequence(lambda n: f"ST{n:05d}")
    name = factory.Sequence(lambda n: f"Store {n}")
    kind = StoreKind.OWN_FLAGSHIP
    city = "Beijing"
    province = "Beijing"
    latitude = Decimal("39.904200")
    longitude = Decimal("116.407400")
    city_tier = 1
    service_radius_km = 10
    status = StoreStatus.OPEN


def clerk_at(store, **kwargs):
    user = UserFactory(roles=[Role.STORE_CLERK], **kwargs)
    StaffMembership.objects.create(user=user, store=store, role=StaffRole.CLERK)
    return user


def manager_at(store, **kwargs):
    user = UserFactory(roles=[Role.STORE_MANAGER], **kwargs)
    StaffMembership.objects.create(user=user, store=store, role=StaffRole.MANAGER)
    return user


# --- members ---------------------------------------------------------------------------------


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "members.Member"

    phone = factory.Sequence(lambda n: f"139{n:08d}")
    name = factory.Sequence(lambda n: f"Member {n}")
    city = "Beijing"


# --- orders ----------------------------------------------------------------------------------


def warehouse(**kwargs):
    from stores.choices import StoreKind

    return StoreFactory(kind=StoreKind.WAREHOUSE, service_radius_km=200, **kwargs)


# --- guides ----------------------------------------------------------------------------------


class GuideLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "guides.GuideLevel"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"level{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n + 1)


class GuideFactory(factory.django.DjangoModelFactory):
    """A guide with a login (Guide role); pass store=/partner= to place them."""

    class Meta:
        model = "guides.Guide"

    user = factory.SubFactory(UserFactory, roles=[Role.GUIDE])
    code = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.Sequence(lambda n: f"Guide {n}")
    phone = factory.Sequence(lambda n: f"137{n:08d}")


def partner_user(partner, **kwargs):
    """A user who logs in for `partner` (Partner role)."""
    user = UserFactory(roles=[Role.PARTNER], **kwargs)
    partner.users.add(user)
    return user
