from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    UNKNOWN = "", _("Not given")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class IdentitySource(models.TextChoices):
    STORE_CARD = "store_card", _("Store loyalty card")
    TMALL = "tmall", _("Tmall buyer")
    JD = "jd", _("JD buyer")
    WECHAT = "wechat", _("WeChat openid")
    PARTNER = "partner", _("Partner member number")
    OWN_MALL = "own_mall", _("Own mall account")


class PointsKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    REVERSE = "reverse", _("Reversed (refund)")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted by HQ")
    REFUND = "refund", _("Paid back (order refunded)")
