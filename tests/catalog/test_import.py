"""CSV/XLSX import of products, SKUs and prices: every row validated, a bad file imports nothing."""

import html
import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from import_export.formats.base_formats import CSV, XLSX

from catalog.choices import PriceAction
from catalog.models import SKU, Price, PriceChange, Product
from catalog.resources import PriceResource, ProductResource, SKUResource
from catalog.services import price_set
from config.roles import SYSTEM
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    DealerChannelFactory,
    ProductFactory,
    SKUFactory,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"  # positions in the admin's import formats


def csv_dataset(text: str):
    return CSV().create_dataset(text)


def run_import(resource_class, text: str, dry_run=False, **kwargs):
    """An import as the product itself (the admin imports as its user)."""
    return resource_class().import_data(
        csv_dataset(text),
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        **({"user": SYSTEM} | kwargs),
    )


def row_messages(result) -> dict[int, str]:
    """{row number: all messages of that row}, for validation errors and row errors alike."""
    found: dict[int, list[str]] = {}
    for row in result.invalid_rows:
        for messages in row.error_dict.values():
            found.setdefault(row.number, []).extend(str(m) for m in messages)
    for number, errors in result.row_errors():
        found.setdefault(number, []).extend(str(e.error) for e in errors)
    return {number: " | ".join(messages) for number, messages in found.items()}


@pytest.fixture
def mall():
    return ChannelFactory(code="mall", name="Own mall")


@pytest.fixture
def skus():
    return SKUFactory(code="TV55"), SKUFactory(code="TV65")


# --- Prices through the resource


def test_price_file_creates_each_price_through_the_service_with_audit(mall, skus, hq):
    result = run_import(
        PriceResource,
        "sku,channel,amount,valid_from,valid_to\n"
        "TV55,mall,2999.5,2026-11-01 00:00,\n"
        "TV65,,4999,2026-11-01T00:00:00+08:00,2027-12-01 00:00\n",
        user=hq,
    )

    assert not result.has_errors() and not result.has_validation_errors()
    tv55 = Price.objects.get(sku__code="TV55")
    assert (tv55.channel, tv55.amount, tv55.valid_from, tv55.valid_to) == (mall, Decimal("2999.50"), T0, None)
    tv65 = Price.objects.get(sku__code="TV65")
    assert tv65.channel is None  # blank channel: all channels
    assert tv65.valid_to == datetime(2027, 12, 1, tzinfo=SH)
    assert tv65.created_by == hq
    audit = PriceChange.objects.filter(action=PriceAction.SET, changed_by=hq)
    assert sorted(audit.values_list("sku__code", "new_amount")) == [
        ("TV55", Decimal("2999.50")),
        ("TV65", Decimal("4999.00")),
    ]


def test_price_file_supersedes_the_open_price_like_the_service(mall, skus, hq):
    price_set(sku=skus[0], channel=mall, amount=Decimal("3199"), valid_from=T0, actor=SYSTEM)

    result = run_import(
        PriceResource, "sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-11 00:00\n", user=hq
    )

    assert not result.has_validation_errors()
    old, new = Price.objects.filter(sku=skus[0]).order_by("valid_from")
    assert old.valid_to == new.valid_from == datetime(2026, 11, 11, tzinfo=SH)
    assert PriceChange.objects.get(price=new).old_amount == Decimal("3199.00")


def test_dry_run_reports_new_rows_and_writes_nothing(mall, skus):
    result = run_import(
        PriceResource, "sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\n", dry_run=True
    )

    assert not result.has_validation_errors()
    assert result.totals["new"] == 1
    assert not Price.objects.exists() and not PriceChange.objects.exists()


def test_unknown_sku_rejects_the_whole_price_file(mall, skus):
    result = run_import(
        PriceResource,
        "sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nNOPE-1,mall,10,2026-11-01\n",
    )

    assert result.has_validation_errors()
    assert row_messages(result) == {2: "There is no SKU with code “NOPE-1”."}
    assert not Price.objects.exists()  # the good first row was rolled back too
    assert not PriceChange.objects.exists()


def test_negative_price_rejects_the_whole_file_with_the_service_message(mall, skus):
    result = run_import(
        PriceResource,
        "sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nTV65,mall,-5,2026-11-01\n",
    )

    assert row_messages(result) == {2: "Must be greater than zero."}
    assert "amount" in result.invalid_rows[0].field_specific_errors
    assert not Price.objects.exists()


def test_channel_price_for_a_unified_sku_is_a_row_error(mall):
    SKUFactory(code="PHONE1", unified=True)
    SKUFactory(code="TV55")

    result = run_import(
        PriceResource,
        "sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nPHONE1,mall,1999,2026-11-01\n",
    )

    message = row_messages(result)[2]
    assert "PHONE1 is sold at one price on every channel" in message
    assert "not for Own mall" in message
    assert not Price.objects.exists()


def test_overlapping_windows_inside_one_file_are_refused(mall, skus):
    result = run_import(
        PriceResource,
        "sku,channel,amount,valid_from,valid_to\n"
        "TV55,mall,2999,2027-11-01 00:00,2027-11-20 00:00\n"
        "TV55,mall,2899,2027-11-10 00:00,2027-11-30 00:00\n",
    )

    assert "two prices cannot be live at once" in row_messages(result)[2]
    assert not Price.objects.exists()


def test_price_below_the_dealer_margin_floor_names_the_numbers():
    DealerChannelFactory(code="dealer", name="Dealers")  # 8% floor
    SKUFactory(code="TV55", dealer_cost=Decimal("1000.00"))

    result = run_import(PriceResource, "sku,channel,amount,valid_from\nTV55,dealer,1050,2026-11-01\n")

    message = row_messages(result)[1]
    assert "1050.00 is below the margin floor of Dealers for TV55" in message
    assert "1080.00" in message
    assert not Price.objects.exists()


@pytest.mark.parametrize(
    ("amount", "valid_from", "expected"),
    [
        ("12.x", "2026-11-01", "“12.x” is not a number."),
        ("10", "next tuesday", "“next tuesday” is not a date and time"),
        ("", "2026-11-01", "This field is required."),
    ],
)
def test_unreadable_cells_are_row_errors(mall, skus, amount, valid_from, expected):
    result = run_import(
        PriceResource,
        f"sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nTV65,mall,{amount},{valid_from}\n",
    )

    assert expected in row_messages(result)[2]
    assert not Price.objects.exists()


def test_file_without_the_expected_columns_imports_nothing(skus):
    result = run_import(PriceResource, "product;price\nTV55;2999\n")

    assert result.has_errors()
    assert "The file has no column sku, channel, amount, valid_from" in str(result.base_errors[0].error)
    assert not Price.objects.exists()


def test_garbage_read_as_text_imports_nothing():
    garbage = b"\x89PNG\x1a\x00\x00IHDR\xff\x00\x01\n\x9c\xed\xc1\x01\n".decode("latin-1")

    result = run_import(PriceResource, garbage)

    assert result.has_errors()
    assert "The file has no column" in str(result.base_errors[0].error)
    assert not Price.objects.exists()


def test_an_import_without_the_importing_user_does_nothing(skus):
    with pytest.raises(TypeError, match="user="):
        PriceResource().import_data(csv_dataset("sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\n"))
    assert not Price.objects.exists()


def test_imports_refuse_to_run_outside_a_transaction(skus):
    with pytest.raises(ValueError, match="always run in a transaction"):
        PriceResource().import_data(csv_dataset("sku,channel,amount,valid_from\n"), use_transactions=False)


# --- Products and SKUs through the resource


def test_product_file_creates_and_updates_products_by_code():
    CategoryFactory(code="tv", name="TV")
    ProductFactory(code="SPU1", name="Old name")

    result = run_import(
        ProductResource,
        "code,name,brand,category,description\nSPU1,Super TV 55,LeTV,tv,\nSPU2,Super TV 65,LeTV,tv,big\n",
    )

    assert not result.has_validation_errors()
    assert result.totals["new"] == 1 and result.totals["update"] == 1
    assert dict(Product.objects.values_list("code", "name")) == {"SPU1": "Super TV 55", "SPU2": "Super TV 65"}
    assert set(Product.objects.values_list("category__code", flat=True)) == {"tv"}


def test_product_file_with_unknown_category_or_blank_name_imports_nothing():
    CategoryFactory(code="tv")

    result = run_import(
        ProductResource,
        "code,name,brand,category\nSPU1,TV,LeTV,tv\nSPU2,Phone,LeTV,phones\nSPU3,,LeTV,tv\n",
    )

    messages = row_messages(result)
    assert messages[2] == "There is no category with code “phones”."
    assert "This field cannot be blank." in messages[3]
    assert not Product.objects.exists()


def test_sku_file_creates_skus_under_products_by_code():
    ProductFactory(code="SPU1")

    result = run_import(
        SKUResource,
        "code,product,name,barcode,attributes,serial_tracked,dealer_cost\n"
        'TV55-B,SPU1,55" black,6901234567890,"{""colour"": ""black""}",yes,1500\n'
        'TV55-W,SPU1,55" white,,,0,\n',
    )

    assert not result.has_validation_errors()
    black = SKU.objects.get(code="TV55-B")
    assert (black.product.code, black.barcode, black.attributes) == (
        "SPU1",
        "6901234567890",
        {"colour": "black"},
    )
    assert black.serial_tracked is True and black.dealer_cost == Decimal("1500.00")
    white = SKU.objects.get(code="TV55-W")
    assert (white.barcode, white.attributes, white.serial_tracked) == (None, {}, False)


def test_sku_file_with_duplicate_barcode_or_bad_values_imports_nothing():
    ProductFactory(code="SPU1")
    SKUFactory(code="OLD", barcode="6900000000001")

    result = run_import(
        SKUResource,
        "code,product,name,barcode,serial_tracked,dealer_cost\n"
        "A,SPU1,a,6900000000001,0,\n"
        "B,SPU1,b,,maybe,\n"
        "C,SPU1,c,,0,-3\n"
        "D,NOPE,d,,0,\n",
    )

    messages = row_messages(result)
    assert "SKU with this Barcode already exists." in messages[1]
    assert "“maybe” is not yes/no" in messages[2]
    assert "Must be greater than zero." in messages[3]
    assert "There is no product with code “NOPE”." in messages[4]
    assert list(SKU.objects.values_list("code", flat=True)) == ["OLD"]


def test_sku_file_marks_one_price_through_the_service_and_its_refusal_is_a_row_error(mall):
    ProductFactory(code="SPU1")
    priced = SKUFactory(code="PRICED")
    price_set(sku=priced, channel=mall, amount=Decimal("99"), valid_from=T0, actor=SYSTEM)

    result = run_import(
        SKUResource,
        "code,product,name,unified\nNEW1,SPU1,new,1\nPRICED,SPU1,priced,1\n",
    )

    assert "These SKUs still have channel-specific prices" in row_messages(result)[2]
    assert not SKU.objects.filter(code="NEW1").exists()
    priced.refresh_from_db()
    assert priced.unified is False


def test_sku_file_can_mark_skus_without_channel_prices_unified():
    ProductFactory(code="SPU1")
    SKUFactory(code="FREE")

    result = run_import(SKUResource, "code,product,name,unified\nFREE,SPU1,free,true\n")

    assert not result.has_validation_errors()
    assert SKU.objects.get(code="FREE").unified is True


# --- XLSX


def xlsx_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_price_file_with_native_cells_imports(mall, skus):
    data = xlsx_bytes(
        [
            ["sku", "channel", "amount", "valid_from", "valid_to"],
            ["TV55", "mall", 2999.5, datetime(2026, 11, 1), None],
        ]
    )

    result = PriceResource().import_data(
        XLSX().create_dataset(data), dry_run=False, use_transactions=True, user=SYSTEM
    )

    assert not result.has_validation_errors() and not result.has_errors()
    price = Price.objects.get()
    assert (price.amount, price.valid_from) == (Decimal("2999.50"), T0)


# --- The admin's import page: preview (dry run), then confirm


def post_import(client, url, name, data, input_format=CSV_FORMAT):
    upload = SimpleUploadedFile(name, data)
    return client.post(url, {"format": input_format, "import_file": upload, "resource": "0"})


def confirm_import(client, url, response):
    form = response.context["confirm_form"]
    return client.post(url, {name: form.initial[name] for name in form.fields if name in form.initial})


def test_admin_price_import_previews_then_confirm_writes(hq_client, hq, mall, skus):
    response = post_import(
        hq_client,
        "/admin/catalog/price/import/",
        "prices.csv",
        b"sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nTV65,,4999,2026-11-01\n",
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Preview" in body and "Confirm import" in body
    assert not Price.objects.exists()  # the preview is a dry run

    response = confirm_import(hq_client, "/admin/catalog/price/process_import/", response)

    assert response.status_code == 302
    assert sorted(Price.objects.values_list("sku__code", "amount")) == [
        ("TV55", Decimal("2999.00")),
        ("TV65", Decimal("4999.00")),
    ]
    assert set(PriceChange.objects.values_list("changed_by", flat=True)) == {hq.pk}


def test_admin_price_import_with_a_bad_row_shows_row_errors_and_offers_no_confirm(hq_client, mall):
    SKUFactory(code="TV55")
    SKUFactory(code="PHONE1", unified=True)

    response = post_import(
        hq_client,
        "/admin/catalog/price/import/",
        "prices.csv",
        b"sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\nNOPE,mall,1,2026-11-01\n"
        b"TV55,mall,-1,2026-12-01\nPHONE1,mall,1999,2026-11-01\n",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Some rows failed to validate" in body
    assert "There is no SKU with code “NOPE”." in body
    assert "Must be greater than zero." in body
    assert "PHONE1 is sold at one price on every channel" in body
    assert "Confirm import" not in body
    assert response.context["result"].invalid_rows[0].number == 2
    assert not Price.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("garbage.csv", b"\xff\xfe\x00\x81garbage\x00\xc3\x28", "could not be read (it is not UTF-8 text)"),
        (
            "ragged.csv",
            b"sku,channel,amount,valid_from\nTV55,mall\nTV65,mall,1,2026-11-01,x,y\n",
            "its rows do not all have as many columns as the header",
        ),
        ("empty.csv", b"", "The submitted file is empty."),
        ("header-only.csv", b"sku,channel,amount,valid_from\n", "No valid data to import."),
    ],
)
def test_admin_import_of_a_malformed_file_shows_an_error_and_writes_nothing(
    hq_client, mall, skus, name, data, expected
):
    response = post_import(hq_client, "/admin/catalog/price/import/", name, data)

    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert expected in body
    assert "Confirm import" not in body
    assert not Price.objects.exists()


def test_admin_confirm_rolls_back_when_the_data_changed_since_the_preview(hq_client, mall, skus):
    response = post_import(
        hq_client,
        "/admin/catalog/price/import/",
        "prices.csv",
        b"sku,channel,amount,valid_from\nTV65,mall,4999,2026-11-01\nTV55,mall,2999,2026-11-01\n",
    )
    # Between preview and confirm someone prices TV55 from an earlier start: the file now overlaps.
    price_set(
        sku=skus[0],
        channel=mall,
        amount=Decimal("3100"),
        valid_from=datetime(2026, 11, 2, tzinfo=SH),
        actor=SYSTEM,
    )

    response = confirm_import(hq_client, "/admin/catalog/price/process_import/", response)

    assert response.status_code == 302
    assert response.url == "/admin/catalog/price/import/"
    assert list(Price.objects.values_list("sku__code", flat=True)) == ["TV55"]  # only the one set above
    page = hq_client.get(response.url).content.decode()
    assert "Nothing was imported: row 2, valid_from: TV55 already has a price" in page


def test_admin_xlsx_sku_import_previews_then_confirm_writes(hq_client):
    ProductFactory(code="SPU1")
    data = xlsx_bytes([["code", "product", "name", "barcode"], ["TV55", "SPU1", "TV 55", 6901234567890]])

    response = post_import(
        hq_client, "/admin/catalog/sku/import/", "skus.xlsx", data, input_format=XLSX_FORMAT
    )
    assert "Confirm import" in response.content.decode()
    confirm_import(hq_client, "/admin/catalog/sku/process_import/", response)

    assert SKU.objects.get(code="TV55").barcode == "6901234567890"


def test_admin_product_import_with_unknown_category_writes_nothing(hq_client):
    CategoryFactory(code="tv")

    response = post_import(
        hq_client,
        "/admin/catalog/product/import/",
        "products.csv",
        b"code,name,brand,category\nSPU1,TV,LeTV,tv\nSPU2,Phone,LeTV,phones\n",
    )

    assert "There is no category with code “phones”." in response.content.decode()
    assert not Product.objects.exists()


def test_staff_without_catalog_permissions_cannot_import_prices(client, mall, skus):
    from tests.factories import UserFactory

    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)

    response = post_import(
        client, "/admin/catalog/price/import/", "p.csv", b"sku,channel,amount,valid_from\n"
    )

    assert response.status_code == 403
    assert not Price.objects.exists()


# --- Hostile files in the admin (issue 14, defect 5): a clear message, no 500, nothing written,
# no server paths.


def assert_clean_page(response):
    body = html.unescape(response.content.decode())
    assert response.status_code in (200, 302), response.status_code
    assert "Traceback" not in body
    assert "/site-packages/" not in body and "/work/" not in body and ".py" not in body
    return body


def test_admin_confirming_an_import_twice_says_so_and_writes_it_once(hq_client, mall, skus):
    client = hq_client
    client.raise_request_exception = False
    preview = post_import(
        client,
        "/admin/catalog/price/import/",
        "prices.csv",
        b"sku,channel,amount,valid_from\nTV55,mall,2999,2026-11-01\n",
    )
    first = confirm_import(client, "/admin/catalog/price/process_import/", preview)
    assert first.status_code == 302

    again = confirm_import(client, "/admin/catalog/price/process_import/", preview)

    assert again.status_code == 302
    assert again.url == "/admin/catalog/price/import/"
    page = assert_clean_page(client.get(again.url))
    assert "This import was already confirmed or has expired" in page
    assert list(Price.objects.values_list("sku__code", "amount")) == [("TV55", Decimal("2999.00"))]


def test_admin_confirming_after_the_upload_was_cleaned_away_says_so(hq_client, mall, skus):
    from django.core.cache import cache

    preview = post_import(
        hq_client,
        "/admin/catalog/price/import/",
        "prices.csv",
        b"sku,channel,amount,valid_from\nTV55,mall,1,2026-11-01\n",
    )
    confirm_import(hq_client, "/admin/catalog/price/process_import/", preview)
    cache.clear()  # another app server, or the claim expired: only the missing file tells

    again = confirm_import(hq_client, "/admin/catalog/price/process_import/", preview)

    assert again.status_code == 302
    assert "This import was already confirmed or has expired" in assert_clean_page(hq_client.get(again.url))
    assert Price.objects.count() == 1


@pytest.mark.parametrize("cell", ["1e400", "-1e400", "1e15", "NaN", "Infinity", "9" * 40])
def test_admin_a_huge_number_is_a_row_error_next_to_the_other_rows_errors(hq_client, mall, skus, cell):
    response = post_import(
        hq_client,
        "/admin/catalog/price/import/",
        "prices.csv",
        f"sku,channel,amount,valid_from\nTV55,mall,{cell},2026-11-01\nNOPE,mall,1,2026-11-01\n".encode(),
    )

    body = assert_clean_page(response)
    assert response.status_code == 200
    assert "Some rows failed to validate" in body
    assert "There is no SKU with code “NOPE”." in body  # the other row's message is still shown
    assert cell in body or "not a number" in body
    assert "Confirm import" not in body
    assert not Price.objects.exists()


@pytest.mark.parametrize("cell", ["1e400", "1e15", "99999999999999999999"])
def test_a_huge_number_in_an_xlsx_or_sku_file_is_a_row_error(cell):
    ProductFactory(code="SPU1")
    result = run_import(SKUResource, f"code,product,name,dealer_cost\nTV55,SPU1,TV,{cell}\nTV65,NOPE,TV,1\n")

    messages = row_messages(result)
    assert not result.has_errors()  # row errors (exceptions) would hide the validation messages
    assert messages[1]
    assert "There is no product with code “NOPE”." in messages[2]
    assert not SKU.objects.exists()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/catalog/price/import/", b"foo,bar\n1,2\n"),
        ("/admin/catalog/sku/import/", b"sku,channel,amount,valid_from\nTV55,mall,1,2026-11-01\n"),
        ("/admin/catalog/product/import/", b"code\nSPU1\n"),
    ],
)
def test_admin_a_file_with_the_wrong_columns_names_them_without_a_traceback(hq_client, mall, skus, url, data):
    hq_client.raise_request_exception = False
    response = post_import(hq_client, url, "wrong.csv", data)

    body = assert_clean_page(response)
    assert response.status_code == 200
    assert "The file has no column" in body
    assert "Confirm import" not in body
    assert not Price.objects.exists()
    assert SKU.objects.count() == 2
    assert not Product.objects.exclude(skus__in=skus).exists()
