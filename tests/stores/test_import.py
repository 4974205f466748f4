"""CSV/XLSX import of stores: coordinates, tier and radius validated per row; a bad file imports nothing."""

import html
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from import_export.formats.base_formats import CSV

from config.roles import SYSTEM
from stores.choices import StoreKind, StoreStatus
from stores.models import Store
from stores.resources import StoreResource
from tests.factories import PartnerFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "code,name,kind,partner,province,city,address,latitude,longitude,city_tier,service_radius_km,status\n"
)
GOOD = "SH001,Shanghai Xujiahui,own_flagship,,Shanghai,Shanghai,1 Hongqiao Rd,31.195,121.437,1,30,open\n"
PARTNER_ROW = "HF001,Hefei LePar,Partner experience store,lepar,Anhui,Hefei,,31.8206,117.2272,3,10,\n"


def run_import(text: str, dry_run=False, **kwargs):
    dataset = CSV().create_dataset(text)
    return StoreResource().import_data(
        dataset, dry_run=dry_run, raise_errors=False, use_transactions=True, **({"user": SYSTEM} | kwargs)
    )


def row_messages(result) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for row in result.invalid_rows:
        for messages in row.error_dict.values():
            found.setdefault(row.number, []).extend(str(m) for m in messages)
    for number, errors in result.row_errors():
        found.setdefault(number, []).extend(str(e.error) for e in errors)
    return {number: " | ".join(messages) for number, messages in found.items()}


@pytest.fixture
def lepar():
    return PartnerFactory(code="lepar", name="LePar")


def test_store_file_creates_stores_with_partner_by_code_and_kind_by_code_or_label(lepar):
    result = run_import(HEADER + GOOD + PARTNER_ROW)

    assert not result.has_errors() and not result.has_validation_errors()
    xujiahui = Store.objects.get(code="SH001")
    assert (xujiahui.kind, xujiahui.partner, xujiahui.city_tier, xujiahui.service_radius_km) == (
        StoreKind.OWN_FLAGSHIP,
        None,
        1,
        30,
    )
    assert (xujiahui.latitude, xujiahui.longitude) == (Decimal("31.195000"), Decimal("121.437000"))
    hefei = Store.objects.get(code="HF001")
    assert (hefei.kind, hefei.partner, hefei.status) == (StoreKind.PARTNER, lepar, StoreStatus.OPEN)


def test_store_file_updates_a_known_store_by_code(lepar):
    StoreFactory(code="SH001", name="Old name", city_tier=2)

    result = run_import(HEADER + GOOD)

    assert result.totals["update"] == 1 and result.totals["new"] == 0
    store = Store.objects.get(code="SH001")
    assert (store.name, store.city_tier) == ("Shanghai Xujiahui", 1)


def test_latitude_95_rejects_the_whole_store_file(lepar):
    bad = "BJ001,Beijing,own_flagship,,Beijing,Beijing,,95,116.4,1,10,open\n"

    result = run_import(HEADER + GOOD + PARTNER_ROW + bad)

    assert result.has_validation_errors()
    assert row_messages(result) == {3: "95.000000 is outside the allowed range -90 to 90."}
    assert list(result.invalid_rows[0].field_specific_errors) == ["latitude"]
    assert not Store.objects.exists()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "X1,x,own_flagship,,,Beijing,,39.9,181,1,10,open",
            "181.000000 is outside the allowed range -180 to 180.",
        ),
        ("X1,x,own_flagship,,,Beijing,,39.9,116.4,7,10,open", "7 is outside the allowed range 1 to 6."),
        ("X1,x,own_flagship,,,Beijing,,39.9,116.4,1,0,open", "0 is outside the allowed range 1 to 200."),
        ("X1,x,own_flagship,,,Beijing,,north,116.4,1,10,open", "“north” is not a number."),
        ("X1,x,own_flagship,,,Beijing,,39.9,116.4,2.5,10,open", "“2.5” is not a whole number."),
        ("X1,x,shop,,,Beijing,,39.9,116.4,1,10,open", "“shop” is not one of: own_flagship, partner, dealer"),
        ("X1,x,dealer,nobody,,Beijing,,39.9,116.4,1,10,open", "There is no partner with code “nobody”."),
        ("X1,x,dealer,,,,,39.9,116.4,1,10,open", "This field cannot be blank."),
        ("X1,x,dealer,,,Beijing,,,116.4,1,10,open", "This field cannot be null."),
    ],
)
def test_a_bad_store_row_is_reported_and_nothing_is_written(lepar, row, expected):
    result = run_import(HEADER + GOOD + row + "\n")

    assert expected in row_messages(result)[2]
    assert not Store.objects.exists()


def test_two_rows_with_the_same_code_update_rather_than_duplicate():
    result = run_import(HEADER + GOOD + GOOD.replace("Xujiahui", "Xujiahui 2"))

    assert not result.has_validation_errors()
    assert list(Store.objects.values_list("name", flat=True)) == ["Shanghai Xujiahui 2"]


def test_store_file_without_coordinates_columns_imports_nothing():
    result = run_import("code,name,kind,city\nSH001,Shanghai,own_flagship,Shanghai\n")

    assert result.has_errors()
    assert "The file has no column latitude, longitude, city_tier" in str(result.base_errors[0].error)
    assert not Store.objects.exists()


def test_dry_run_of_a_good_store_file_writes_nothing(lepar):
    result = run_import(HEADER + GOOD + PARTNER_ROW, dry_run=True)

    assert result.totals["new"] == 2
    assert not Store.objects.exists()


# --- The admin's import page


def post_import(client, name, data, input_format="0"):
    return client.post(
        "/admin/stores/store/import/",
        {"format": input_format, "import_file": SimpleUploadedFile(name, data), "resource": "0"},
    )


def test_admin_store_import_previews_then_confirm_writes(hq_client, lepar):
    response = post_import(hq_client, "stores.csv", (HEADER + GOOD + PARTNER_ROW).encode())

    body = response.content.decode()
    assert "Preview" in body and "Confirm import" in body
    assert not Store.objects.exists()

    form = response.context["confirm_form"]
    response = hq_client.post("/admin/stores/store/process_import/", form.initial)

    assert response.status_code == 302
    assert sorted(Store.objects.values_list("code", flat=True)) == ["HF001", "SH001"]


def test_admin_store_import_with_latitude_95_shows_the_row_error_and_writes_nothing(hq_client, lepar):
    bad = "BJ001,Beijing,own_flagship,,Beijing,Beijing,,95,116.4,1,10,open\n"

    response = post_import(hq_client, "stores.csv", (HEADER + GOOD + bad).encode())

    body = html.unescape(response.content.decode())
    assert "Some rows failed to validate" in body
    assert "95.000000 is outside the allowed range -90 to 90." in body
    assert "Confirm import" not in body
    assert not Store.objects.exists()


def test_admin_store_import_of_garbage_bytes_shows_an_error_and_writes_nothing(hq_client):
    response = post_import(hq_client, "stores.csv", bytes(range(128, 256)) * 4)

    body = html.unescape(response.content.decode())
    assert "The file could not be read (it is not UTF-8 text)" in body
    assert not Store.objects.exists()


def test_admin_store_import_reads_xlsx(hq_client, lepar):
    book = openpyxl.Workbook()
    for line in (HEADER + PARTNER_ROW).splitlines():
        book.active.append(line.split(","))
    data = io.BytesIO()
    book.save(data)

    response = post_import(hq_client, "stores.xlsx", data.getvalue(), input_format="1")
    hq_client.post("/admin/stores/store/process_import/", response.context["confirm_form"].initial)

    assert Store.objects.get().partner == lepar


def test_staff_without_store_permissions_cannot_import_stores(client):
    client.force_login(UserFactory(is_staff=True))

    response = post_import(client, "stores.csv", (HEADER + GOOD).encode())

    assert response.status_code == 403
    assert not Store.objects.exists()


# --- Hostile files in the admin (issue 14, defect 5): a clear message, no 500, nothing written.


def assert_clean_page(response):
    body = html.unescape(response.content.decode())
    assert response.status_code in (200, 302), response.status_code
    assert "Traceback" not in body and ".py" not in body and "/work/" not in body
    return body


def test_admin_confirming_a_store_import_twice_says_so_and_writes_it_once(hq_client, lepar):
    hq_client.raise_request_exception = False
    preview = post_import(hq_client, "stores.csv", (HEADER + GOOD).encode())
    hq_client.post("/admin/stores/store/process_import/", preview.context["confirm_form"].initial)

    again = hq_client.post("/admin/stores/store/process_import/", preview.context["confirm_form"].initial)

    assert again.status_code == 302
    assert "This import was already confirmed or has expired" in assert_clean_page(hq_client.get(again.url))
    assert list(Store.objects.values_list("code", flat=True)) == ["SH001"]


@pytest.mark.parametrize(
    "bad",
    [
        "BJ001,Beijing,own_flagship,,Beijing,Beijing,,1e400,116.4,1,10,open\n",
        "BJ001,Beijing,own_flagship,,Beijing,Beijing,,39.9,116.4,1e400,10,open\n",
        "BJ001,Beijing,own_flagship,,Beijing,Beijing,,39.9,116.4,1,2147483648,open\n",
    ],
)
def test_admin_a_huge_number_is_a_row_error_and_the_other_rows_messages_stay(hq_client, lepar, bad):
    other = "XX001,Nowhere,own_flagship,nope,,City,,30,120,1,10,open\n"

    response = post_import(hq_client, "stores.csv", (HEADER + bad + other).encode())

    body = assert_clean_page(response)
    assert response.status_code == 200
    assert "Some rows failed to validate" in body
    assert "too large" in body
    assert "There is no partner with code “nope”." in body
    assert "Confirm import" not in body
    assert not Store.objects.exists()


def test_admin_a_store_file_with_the_wrong_columns_names_them_without_a_traceback(hq_client):
    hq_client.raise_request_exception = False
    response = post_import(hq_client, "stores.csv", b"sku,channel,amount\nTV55,mall,1\n")

    body = assert_clean_page(response)
    assert response.status_code == 200
    assert "The file has no column code, name, kind, city, latitude, longitude, city_tier" in body
    assert "Nothing was imported." in body
    assert not Store.objects.exists()
