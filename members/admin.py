"""HQ's admin for members, identities, merges, points, tiers, segments and store lists.

Points, merges and consent are business rules: the ledger is read-only here and changes only
through members.services (an adjustment is the one "add" the ledger allows); merges run
member_merge; a refusal is shown as the service's message.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from config.admin import ModelAdmin, ReadOnlyAdminMixin, TabularInline, add_domain_error, adopt_saved
from config.errors import DomainError
from config.roles import SYSTEM, is_hq
from members.errors import InvalidPhone
from members.models import (
    ExternalIdentity,
    Member,
    MemberMerge,
    PointsEntry,
    PointsRule,
    Segment,
    StaticGroup,
    Tier,
)
from members.phones import normalise_phone
from members.selectors import SegmentInvalid, segment_members
from members.services import (
    member_merge,
    member_set_consent,
    points_adjust,
    segment_create,
    segment_filters_check,
    static_group_add,
    static_group_remove,
)
from stores.models import Store

LEDGER_INLINE_ROWS = 50


class _DryRun(Exception):
    """Raised to roll back the savepoint of a validation-only service call."""


# --- Members


class MemberForm(forms.ModelForm):
    # Wider than the stored 11 digits: HQ may type "+86 138 0013 8000"; clean_phone normalises it.
    phone = forms.CharField(label=gettext_lazy("mobile"), max_length=32, required=False)

    class Meta:
        model = Member
        fields = ("phone", "name", "gender", "birthday", "city", "home_store", "marketing_consent")

    def clean_phone(self):
        raw = self.cleaned_data.get("phone")
        if not raw:
            return None
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise forms.ValidationError(exc.message) from None


class IdentityInline(ReadOnlyAdminMixin, TabularInline):
    model = ExternalIdentity
    fields = readonly_fields = ("source", "external_id", "reported_phone", "created_at")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("External identities (they move only by upsert and merge)")


class PointsEntryInline(ReadOnlyAdminMixin, TabularInline):
    model = PointsEntry
    fk_name = "member"
    fields = readonly_fields = (
        "created_at",
        "kind",
        "points",
        "channel",
        "paid_amount",
        "reference",
        "reason",
        "created_by",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy(
        "Points ledger (newest 50 entries; the whole ledger under Points entries)"
    )

    def get_queryset(self, request):
        entries = super().get_queryset(request).select_related("channel", "created_by")
        # A member's ledger grows for years: the page shows the newest rows, the ledger page the rest.
        object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if object_id and object_id.isascii() and object_id.isdigit():
            newest = PointsEntry.objects.filter(member_id=int(object_id)).order_by("-created_at", "-id")
            entries = entries.filter(pk__in=newest.values("pk")[:LEDGER_INLINE_ROWS])
        return entries


class MergedFilter(admin.SimpleListFilter):
    title = gettext_lazy("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return (("no", _("Live members")), ("yes", _("Merged into another member")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        return queryset


class CityFilter(admin.SimpleListFilter):
    """Cities of our stores: a DISTINCT over millions of members would scan them all for a sidebar."""

    title = gettext_lazy("city")
    parameter_name = "city"

    def lookups(self, request, model_admin):
        cities = Store.objects.exclude(city="").order_by("city").values_list("city", flat=True).distinct()
        return [(city, city) for city in cities]

    def queryset(self, request, queryset):
        return queryset.filter(city=self.value()) if self.value() else queryset


@admin.register(Member)
class MemberAdmin(ModelAdmin):
    form = MemberForm
    list_display = (
        "id",
        "phone",
        "name",
        "city",
        "tier",
        "home_store",
        "marketing_consent",
        "points_balance",
        "merged_into",
        "created_at",
    )
    list_filter = ("tier", CityFilter, "marketing_consent", MergedFilter)
    # Exact matches (indexed); a mobile in any format is normalised in get_search_results.
    search_fields = ("=phone", "=identities__external_id", "name")
    search_help_text = gettext_lazy("Mobile (any format), external id or card (exact), or part of the name.")
    list_select_related = ("tier", "home_store", "merged_into")
    autocomplete_fields = ("home_store",)
    readonly_fields = (
        "tier",
        "points_balance",
        "total_spend",
        "last_purchase_at",
        "points_links",
        "consent_changed_at",
        "consent_channel",
        "merged_into",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("phone", "name", "gender", "birthday", "city", "home_store")}),
        (
            gettext_lazy("Marketing consent"),
            {"fields": ("marketing_consent", "consent_changed_at", "consent_channel")},
        ),
        (
            gettext_lazy("Points and tier (kept by the points services)"),
            {"fields": ("tier", "points_balance", "total_spend", "last_purchase_at", "points_links")},
        ),
        (pgettext_lazy("admin fieldset", "Record"), {"fields": ("merged_into", "created_at", "updated_at")}),
    )
    inlines = (IdentityInline, PointsEntryInline)
    actions = ("merge_into_oldest",)
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        try:
            phone = normalise_phone(search_term)
        except InvalidPhone:
            return super().get_search_results(request, queryset, search_term)
        # "138 0013 8000" would otherwise be three search words.
        return queryset.filter(phone=phone), False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_merged:
            return False  # kept as the record of a merge; the survivor is the member
        return super().has_change_permission(request, obj)

    def has_merge_permission(self, request):
        return is_hq(request.user) and self.has_change_permission(request)

    @admin.display(description=gettext_lazy("points"))
    def points_links(self, obj):
        if obj.pk is None:
            return "-"
        ledger = reverse("admin:members_pointsentry_changelist") + f"?member__id__exact={obj.pk}"
        adjust = reverse("admin:members_pointsentry_add") + f"?member={obj.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>', ledger, _("Whole ledger"), adjust, _("Adjust points")
        )

    def save_model(self, request, obj, form, change):
        consent_changed = "marketing_consent" in form.changed_data
        wanted = obj.marketing_consent
        if consent_changed:
            # Consent is recorded with when and how by the service, not by a plain save.
            obj.marketing_consent = form.initial.get("marketing_consent", False)
        super().save_model(request, obj, form, change)
        if consent_changed:
            member_set_consent(member=obj, consent=wanted, channel=None)

    @admin.action(description=gettext_lazy("Merge selected into the oldest"), permissions=["merge"])
    def merge_into_oldest(self, request, queryset):
        members = list(queryset.order_by("created_at", "pk"))
        if len(members) < 2:
            self.message_user(request, _("Select at least two members to merge."), messages.WARNING)
            return
        survivor, duplicates = members[0], members[1:]
        try:
            with transaction.atomic():  # every selected duplicate is merged, or none
                records = []
                for duplicate in duplicates:
                    try:
                        records.append(
                            member_merge(
                                survivor=survivor,
                                merged=duplicate,
                                actor=request.user,
                                reason=_("Admin: merged selected into the oldest"),
                            )
                        )
                    except DomainError as exc:
                        exc.message = _("Member %(id)s: %(reason)s") % {
                            "id": duplicate.pk,
                            "reason": exc.message,
                        }
                        raise
        except DomainError as exc:
            self.message_user(
                request, _("No member was merged. %(reason)s") % {"reason": exc.message}, messages.ERROR
            )
            return
        identities = sum(len(r.moved.get("members.externalidentity.member", [])) for r in records)
        points = sum(r.moved.get("points_balance", 0) for r in records)
        self.message_user(
            request,
            _(
                "Merged %(count)d members into member %(id)s (%(survivor)s): "
                "%(identities)d identities and %(points)d points moved."
            )
            % {
                "count": len(records),
                "id": survivor.pk,
                "survivor": survivor,
                "identities": identities,
                "points": points,
            },
        )


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Identities attach by upsert and move by merge, never by hand."""

    list_display = ("external_id", "source", "member", "reported_phone", "created_at")
    list_filter = ("source",)
    search_fields = ("=external_id", "=member__phone", "=reported_phone")
    list_select_related = ("member",)
    show_full_result_count = False


@admin.register(MemberMerge)
class MemberMergeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The record of every merge and what moved; written by member_merge only."""

    list_display = ("merged_at", "merged", "survivor", "merged_phone", "merged_by", "reason")
    search_fields = ("=merged_phone", "=survivor__phone")
    list_select_related = ("merged", "survivor", "merged_by")
    fields = ("survivor", "merged", "merged_phone", "moved", "reason", "merged_by", "merged_at")
    show_full_result_count = False


# --- Points


@admin.register(PointsRule)
class PointsRuleAdmin(ModelAdmin):
    list_display = ("scope", "points_per_yuan", "life_days")
    list_select_related = ("channel",)
    autocomplete_fields = ("channel",)

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return obj.channel.name if obj.channel_id else _("All channels")


@admin.register(Tier)
class TierAdmin(ModelAdmin):
    list_display = ("name", "code", "min_spend_12m")
    search_fields = ("code", "name")


class PointsAdjustForm(forms.ModelForm):
    """HQ's adjustment: the one row the admin adds to the ledger, through points_adjust.

    clean() asks points_adjust in a savepoint that is always rolled back, so a refusal (no reason,
    below zero, merged member) lands on the form; save_model writes.
    """

    class Meta:
        model = PointsEntry
        fields = ("member", "points", "reason")
        help_texts = {"points": gettext_lazy("Positive adds points, negative takes them.")}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            with transaction.atomic():
                points_adjust(
                    member=data["member"], points=data["points"], reason=data.get("reason", ""), actor=SYSTEM
                )
                raise _DryRun
        except _DryRun:
            pass
        except DomainError as exc:
            add_domain_error(self, exc)
            if not self.non_field_errors():
                self.add_error(None, exc.message)  # the whole sentence, with the balance, above the fields
        return data

    def _post_clean(self):
        # The entry is built by points_adjust; the model's constraints would only repeat its rules
        # with a less clear message (the kind is not known to a bare instance).
        pass


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The append-only ledger: never changed or deleted; HQ adds an adjustment via points_adjust."""

    form = PointsAdjustForm
    list_display = (
        "created_at",
        "member",
        "kind",
        "points",
        "channel",
        "paid_amount",
        "reference",
        "client_reference",
        "reason",
        "created_by",
    )
    list_filter = ("kind", "channel")
    search_fields = ("=reference", "=client_reference", "=member__phone")
    list_select_related = ("member", "channel", "created_by")
    raw_id_fields = ("member",)
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return is_hq(request.user) and request.user.has_perm("members.add_pointsentry")

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {"title": _("Adjust points"), **(extra_context or {})})

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("member", "points", "reason")
        return [f.name for f in PointsEntry._meta.concrete_fields if f.name != "id"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry = points_adjust(
            member=data["member"], points=data["points"], reason=data["reason"], actor=request.user
        )
        adopt_saved(obj, entry)


# --- Segments and store lists


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "filters")

    def clean_filters(self):
        filters = self.cleaned_data.get("filters")
        try:
            segment_filters_check(filters)
        except SegmentInvalid as exc:
            raise forms.ValidationError(exc.fields.get("filters") or exc.message) from None
        return filters


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentForm
    list_display = ("name", "created_by", "created_at")
    search_fields = ("name",)
    list_select_related = ("created_by",)

    def get_readonly_fields(self, request, obj=None):
        return ("member_count", "created_by", "created_at") if obj is not None else ()

    @admin.display(description=gettext_lazy("members now"))
    def member_count(self, obj):
        try:
            counts = segment_members(obj.filters).aggregate(
                total=Count("pk"), consenting=Count("pk", filter=Q(marketing_consent=True))
            )
        except SegmentInvalid as exc:
            return exc.message
        return _("%(total)d members, %(consenting)d with marketing consent (exported)") % counts

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)  # the filters were checked by the form
            return
        segment = segment_create(name=obj.name, filters=obj.filters, actor=request.user)
        adopt_saved(obj, segment)


class StaticGroupForm(forms.ModelForm):
    class Meta:
        model = StaticGroup
        fields = ("name", "store", "members")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        members = self.fields["members"]
        members.queryset = Member.objects.filter(merged_into__isnull=True)
        members.error_messages["invalid_choice"] = _(
            "Member %(value)s does not exist or was merged; add the surviving member."
        )


@admin.register(StaticGroup)
class StaticGroupAdmin(ModelAdmin):
    """A store's hand-kept list; members are added and removed through the group services."""

    form = StaticGroupForm
    list_display = ("name", "store", "size", "created_at")
    search_fields = ("name", "store__code", "store__name")
    list_select_related = ("store",)
    autocomplete_fields = ("store",)
    # A list of ids, not a widget holding every member: there are millions.
    raw_id_fields = ("members",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(size=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="size")
    def size(self, obj):
        return obj.size

    def save_related(self, request, form, formsets, change):
        group = form.instance
        wanted = {m.pk: m for m in form.cleaned_data["members"]}
        current = set(group.members.values_list("pk", flat=True))
        for pk in sorted(set(wanted) - current):
            static_group_add(group=group, member=wanted[pk], user=request.user)
        removed = Member.objects.filter(pk__in=current - set(wanted))
        for member in removed:
            static_group_remove(group=group, member=member, user=request.user)
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
