"""English and Simplified Chinese: the login page, the portal and the model choices speak Chinese
when the browser asks for it or the user switches language."""

import gettext
import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from catalog.choices import ChannelKind
from members.services import segment_create
from stores.choices import MovementKind, StoreKind
from tests.factories import MemberFactory, StoreFactory, clerk_at, hq_user

pytestmark = pytest.mark.django_db


def test_login_page_is_english_by_default(client):
    body = client.get(reverse("account_login")).content.decode()
    assert '<html lang="en">' in body
    assert "Sign in to the staff portal" in body


def test_login_page_renders_in_chinese_for_a_chinese_browser(client):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "登录员工门户" in body
    assert "电子邮箱" in body
    assert "Sign in to the staff portal" not in body


def test_a_zh_cn_browser_gets_simplified_chinese(client):
    body = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "登录员工门户" in body


def test_language_switch_turns_the_site_chinese_and_back(client):
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("account_login")}, follow=True
    )
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "登录员工门户" in response.content.decode()
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("account_login")}, follow=True
    )
    assert "Sign in to the staff portal" in response.content.decode()


def test_portal_pages_and_model_choices_are_translated(client):
    store = StoreFactory(name="Wangfujing")
    client.force_login(clerk_at(store))
    client.post(reverse("set_language"), {"language": "zh-hans"})
    home = client.get(reverse("portal:home")).content.decode()
    assert "我的门店" in home and "库存查询" in home and "退出登录" in home
    page = client.get(reverse("stores:detail", args=[store.code])).content.decode()
    assert "直营旗舰店" in page  # StoreKind.OWN_FLAGSHIP
    assert "营业中" in page  # StoreStatus.OPEN


def test_language_switch_offers_both_languages_in_their_own_names(client):
    body = client.get(reverse("account_login")).content.decode()
    assert 'name="language" value="en"' in body
    assert 'name="language" value="zh-hans"' in body
    assert "简体中文" in body


def test_choices_and_service_messages_have_chinese_translations():
    with translation.override("zh-hans"):
        assert str(StoreKind.DEALER.label) == "经销商"
        assert str(ChannelKind.MARKETPLACE.label) == "电商平台旗舰店"
        assert str(MovementKind.ADJUSTMENT.label) == "盘点调整"
        assert translation.gettext("A price must be greater than zero.") == "价格必须大于零。"


# --- the catalog itself: complete, compiled, placeholders kept ------------------------------------

PO_PATH = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-+ #0]*\d*(?:\.\d+)?[sdifr]|\{\w+\}")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass
class PoEntry:
    line: int
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstrs: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def _po_unquote(text: str) -> str:
    """The inside of one PO string line, its C escapes resolved."""
    return re.sub(r"\\(.)", lambda m: PO_ESCAPES.get(m.group(1), m.group(0)), text.strip()[1:-1])


def parse_po(path) -> list[PoEntry]:
    """Entries of a .po file (obsolete `#~` entries left out); multi-line strings joined."""
    entries: list[PoEntry] = []
    for block_start, block in _po_blocks(path.read_text(encoding="utf-8")):
        flags: set[str] = set()
        fields: dict[str, str] = {}
        key = None
        for line in block:
            if line.startswith("#,"):
                flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                key = None
            elif line.startswith('"') and key is not None:
                fields[key] += _po_unquote(line)
            else:
                keyword, _space, rest = line.partition(" ")
                key = keyword
                fields[key] = _po_unquote(rest)
        if "msgid" not in fields:
            continue  # a block of comments only
        entry = PoEntry(
            line=block_start,
            msgid=fields["msgid"],
            msgid_plural=fields.get("msgid_plural"),
            msgctxt=fields.get("msgctxt"),
            flags=flags,
        )
        for keyword, value in fields.items():
            if keyword == "msgstr":
                entry.msgstrs[0] = value
            elif keyword.startswith("msgstr["):
                entry.msgstrs[int(keyword[7:-1])] = value
        entries.append(entry)
    return entries


def _po_blocks(text: str):
    block: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if block:
                yield start, block
            block = []
            continue
        if not block:
            start = number
        block.append(line)
    if block:
        yield start, block


@pytest.fixture(scope="module")
def po_entries():
    return [entry for entry in parse_po(PO_PATH) if entry.msgid]  # the header has an empty msgid


def _listed(entries: list[PoEntry], limit: int = 5) -> str:
    shown = "; ".join(f"line {e.line}: {e.msgid!r}" for e in entries[:limit])
    more = f" (and {len(entries) - limit} more)" if len(entries) > limit else ""
    return shown + more


def test_the_po_parser_reads_multi_line_plural_and_fuzzy_entries(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid ""\n"Hello, "\n"%(name)s \\"you\\""\nmsgstr "你好"\n\n'
        'msgid "%(counter)s store"\nmsgid_plural "%(counter)s stores"\nmsgstr[0] ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "没了"\n',
        encoding="utf-8",
    )
    header, hello, stores = parse_po(po)
    assert header.msgid == "" and header.msgstrs[0] == "Language: zh_Hans\n"
    assert hello.msgid == 'Hello, %(name)s "you"' and hello.msgstrs == {0: "你好"} and "fuzzy" in hello.flags
    assert stores.msgid_plural == "%(counter)s stores" and stores.msgstrs == {0: ""}


def test_every_message_has_a_chinese_translation(po_entries):
    assert len(po_entries) > 500, "the catalog looks truncated"
    missing = [e for e in po_entries if not e.msgstrs or any(not s for s in e.msgstrs.values())]
    assert not missing, f"untranslated in {PO_PATH.name}: {_listed(missing)}"


def test_no_translation_is_left_fuzzy(po_entries):
    fuzzy = [e for e in po_entries if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy (check, fix, drop the flag): {_listed(fuzzy)}"


def test_translations_keep_placeholders_and_html_tags(po_entries):
    broken = []
    for e in po_entries:
        sources = [e.msgid] + ([e.msgid_plural] if e.msgid_plural else [])
        wanted = {p for source in sources for p in PLACEHOLDER.findall(source)}
        tags = sorted(HTML_TAG.findall(e.msgid))
        for text in e.msgstrs.values():
            if set(PLACEHOLDER.findall(text)) != wanted or sorted(HTML_TAG.findall(text)) != tags:
                broken.append(e)
    assert not broken, f"placeholders or tags differ from the msgid: {_listed(broken)}"


def test_the_compiled_catalog_matches_the_po(po_entries):
    """The .mo is what Django reads: a .po edited without compilemessages leaves it stale."""
    with MO_PATH.open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    stale = []
    for e in po_entries:
        if e.msgid_plural is not None:
            # zh_Hans has one plural form: every count takes msgstr[0].
            got = [catalog.ngettext(e.msgid, e.msgid_plural, n) for n in (1, 2)]
            if e.msgctxt is not None:
                got = [catalog.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n) for n in (1, 2)]
            ok = got == [e.msgstrs[0], e.msgstrs[0]]
        else:
            got = catalog.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else catalog.gettext(e.msgid)
            ok = got == e.msgstrs[0]
        if not ok:
            stale.append(e)
    assert not stale, f"django.mo is out of date, run compilemessages: {_listed(stale)}"


# --- the members pages in Chinese -------------------------------------------------------------------


def test_member_lookup_page_speaks_chinese_to_a_clerk(client):
    store = StoreFactory(name="Sanlitun")
    MemberFactory(name="Li Lei", home_store=store)
    client.force_login(clerk_at(store))
    client.post(reverse("set_language"), {"language": "zh-hans"})
    url = reverse("members:lookup")
    assert url == "/portal/members/"

    body = client.get(url).content.decode()
    assert "查找会员" in body  # Find a member
    assert "注册新会员" in body  # Register a new member
    assert "手机号、会员卡号或天猫 / 京东 / 微信 ID" in body  # the lookup field's label
    assert "你门店的顾客" in body and "Li Lei" in body  # Your stores' customers
    assert "会员名单" in body  # nav: Member lists
    assert "Find a member" not in body and "Register a new member" not in body

    body = client.get(url, {"q": "13800138000"}).content.decode()
    assert "没有该号码的会员" in body  # No member with that number
    assert "注册为新会员" in body


def test_segment_list_speaks_chinese_to_hq(client):
    hq = hq_user()
    segment_create(name="Beijing VIP", filters={"city": ["Beijing"], "consent": True}, actor=hq)
    client.force_login(hq)
    body = client.get(reverse("members:segments"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert reverse("members:segments") == "/portal/members/segments/"
    assert "<h1>会员分群</h1>" in body  # Segments
    assert "新建分群" in body  # New segment
    assert "创建人" in body and "创建时间" in body  # Made by, Made on
    assert "Beijing VIP" in body
    assert "城市: Beijing" in body and "营销许可: 是" in body  # the saved filters, described
    assert "New segment" not in body and "Marketing consent" not in body
